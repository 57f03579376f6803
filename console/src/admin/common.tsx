/** What the admin pages share: the admins-only gate, their layout, and field errors from the API. */
import { useQuery } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Modal } from '@zendeskgarden/react-modals';
import { Alert } from '@zendeskgarden/react-notifications';
import { XL } from '@zendeskgarden/react-typography';
import type { ReactNode } from 'react';
import styled from 'styled-components';
import { api, ApiError, samePath } from '../api/client';
import type { Page, User } from '../api/types';
import { COLORS } from '../colors';
import { EmptyState } from '../components/States';
import { useMe } from '../session';

export const Section = styled.section`
  border: 1px solid ${COLORS.border};
  border-radius: 4px;
  padding: 16px;
  margin-bottom: 16px;
  min-width: 0;
  h2 {
    font-size: 16px;
    margin: 0 0 12px;
  }
`;

/** A form's fields side by side on a wide screen, stacked on a narrow one. */
export const FormRow = styled.div`
  display: flex;
  flex-wrap: wrap;
  gap: 12px;
  align-items: flex-end;
  > * {
    flex: 1 1 200px;
    min-width: 0;
  }
  > button {
    flex: 0 0 auto;
  }
`;

/** Tables scroll inside their box on a narrow screen (squeezed, their columns would overlap) instead of widening the page. */
export const Scroll = styled.div`
  overflow-x: auto;
  table {
    min-width: 720px;
  }
  td {
    overflow-wrap: anywhere;
  }
`;

/**
 * An admin page: its heading, then the page, or a clear "Admins only" when an agent reaches it
 * directly (the server refuses their calls with 403 all the same).
 */
export function AdminPage({ title, intro, children }: { title: string; intro: string; children: ReactNode }) {
  const me = useMe();
  return (
    <>
      <XL tag="h1" style={{ margin: '8px 0' }}>
        {title}
      </XL>
      {me.role !== 'admin' ? (
        <EmptyState title="Admins only">Only an admin of this help desk can see or change {title}. Ask one of your admins.</EmptyState>
      ) : (
        <>
          <p style={{ marginTop: 0, color: COLORS.muted }}>{intro}</p>
          {children}
        </>
      )}
    </>
  );
}

/** The messages the API gave for one field (`user.email` and `email` alike), or undefined. */
export function fieldError(error: unknown, ...keys: string[]): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const messages = Object.entries(error.fields)
    .filter(([key]) => keys.some((k) => key === k || key.endsWith(`.${k}`)))
    .flatMap(([, list]) => list);
  return messages.length ? messages.join(' ') : undefined;
}

/** An error of a whole form, unless it is told field by field (then each field says its own). */
export function FormError({ error, fields }: { error: unknown; fields: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && fields.some((f) => fieldError(error, f))) return null;
  return (
    <Alert type="error" role="alert">
      {error instanceof Error ? error.message : 'That did not work.'}
    </Alert>
  );
}

export function displayName(user: Pick<User, 'name' | 'email'> | undefined, fallback: string): string {
  if (!user) return fallback;
  return user.email ? `${user.name} <${user.email}>` : user.name;
}

/**
 * Asks before a change that is hard to undo (deactivating someone, a role change, disconnecting an
 * integration): says what will happen, and acts only on its own button.
 */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  pending?: boolean;
  error?: unknown;
  danger?: boolean;
}) {
  return (
    // Not animated: a question asked before a change is there at once (and holds still for the click).
    <Modal onClose={props.onClose} aria-label={props.title} isAnimated={false}>
      <Modal.Header tag="h2" isDanger={props.danger ?? true}>
        {props.title}
      </Modal.Header>
      <Modal.Body style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <div>{props.children}</div>
        <FormError error={props.error} fields={[]} />
      </Modal.Body>
      <Modal.Footer>
        <Modal.FooterItem>
          <Button isBasic onClick={props.onClose}>
            Cancel
          </Button>
        </Modal.FooterItem>
        <Modal.FooterItem>
          <Button isPrimary isDanger={props.danger ?? true} disabled={props.pending} onClick={props.onConfirm}>
            {props.confirmLabel}
          </Button>
        </Modal.FooterItem>
      </Modal.Footer>
      <Modal.Close aria-label="Close" />
    </Modal>
  );
}

/** Zendesk's List Users for agents and admins at once (`role[]`), 100 a page. */
export const STAFF_PATH = '/api/v2/users?role%5B%5D=agent&role%5B%5D=admin&per_page=100';
/** How many pages of people the pickers read at most (10,000 people: Zendesk's offset paging limit). */
const MAX_STAFF_PAGES = 100;

/** The help desk's agents and admins (who can sign in, own tokens and be in groups), by name: every page, following `next_page`. */
export function useStaff(enabled = true) {
  return useQuery({
    queryKey: ['staff'],
    queryFn: async ({ signal }) => {
      const people: User[] = [];
      let next: string | null = STAFF_PATH;
      let total = 0;
      for (let pages = 0; next && pages < MAX_STAFF_PAGES; pages++) {
        const page: { users: User[] } & Page = await api<{ users: User[] } & Page>(next, { signal });
        people.push(...page.users);
        total = page.count;
        next = page.next_page ? samePath(page.next_page) : null;
      }
      people.sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
      return { people, total };
    },
    enabled,
  });
}
