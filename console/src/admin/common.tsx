/** What the admin pages share: the admins-only gate, their layout, and field errors from the API. */
import { useQuery } from '@tanstack/react-query';
import { Alert } from '@zendeskgarden/react-notifications';
import { XL } from '@zendeskgarden/react-typography';
import type { ReactNode } from 'react';
import styled from 'styled-components';
import { api, ApiError } from '../api/client';
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

/** The help desk's agents and admins (who can sign in, own tokens and be in groups), by name: the first 100 of each role. */
export function useStaff(enabled = true) {
  return useQuery({
    queryKey: ['staff'],
    queryFn: async ({ signal }) => {
      const [agents, admins] = await Promise.all([
        api<{ users: User[] } & Page>('/api/v2/users?role=agent&per_page=100', { signal }),
        api<{ users: User[] } & Page>('/api/v2/users?role=admin&per_page=100', { signal }),
      ]);
      const people = [...agents.users, ...admins.users].sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
      return { people, total: agents.count + admins.count };
    },
    enabled,
  });
}
