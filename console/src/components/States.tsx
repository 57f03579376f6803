import { Alert } from '@zendeskgarden/react-notifications';
import { Spinner } from '@zendeskgarden/react-loaders';
import { MD } from '@zendeskgarden/react-typography';
import styled from 'styled-components';
import { COLORS } from '../colors';

const Center = styled.div`
  display: flex;
  flex-direction: column;
  align-items: center;
  justify-content: center;
  gap: 12px;
  padding: 48px 16px;
  color: ${COLORS.muted};
`;

export function CenteredSpinner({ label }: { label: string }) {
  return (
    <Center role="status" aria-live="polite">
      <Spinner size="32" aria-hidden="true" />
      <MD>{label}…</MD>
    </Center>
  );
}

export function EmptyState({ title, children }: { title: string; children?: React.ReactNode }) {
  return (
    <Center>
      <MD isBold>{title}</MD>
      {children ? <MD>{children}</MD> : null}
    </Center>
  );
}

export function ErrorState({ error }: { error: unknown }) {
  const message = error instanceof Error ? error.message : 'Something went wrong.';
  return (
    <Alert type="error" role="alert">
      <Alert.Title>That did not load</Alert.Title>
      {message}
    </Alert>
  );
}
