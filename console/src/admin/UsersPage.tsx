import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Select } from '@zendeskgarden/react-forms';
import { Modal } from '@zendeskgarden/react-modals';
import { Alert } from '@zendeskgarden/react-notifications';
import { Table } from '@zendeskgarden/react-tables';
import { Tag } from '@zendeskgarden/react-tags';
import { useState, type FormEvent } from 'react';
import { api, samePath } from '../api/client';
import type { Page, Role, User } from '../api/types';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime } from '../format';
import { useMe } from '../session';
import { AdminPage, ConfirmDialog, fieldError, FormError, FormRow, Scroll, Section, STAFF_PATH } from './common';

function statusOf(user: User): { label: string; hue: 'green' | 'grey' | 'red' } {
  if (user.active === false) return { label: 'Deleted', hue: 'red' };
  if (user.suspended) return { label: 'Deactivated', hue: 'grey' };
  return { label: 'Active', hue: 'green' };
}

function CreateUserForm() {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('agent');
  const [password, setPassword] = useState('');
  const [created, setCreated] = useState<User | null>(null);
  const create = useMutation({
    mutationFn: () => api<{ user: User }>('/api/v2/users', { method: 'POST', body: { user: { name: name.trim(), email: email.trim(), role, password } } }),
    onSuccess: (res) => {
      setCreated(res.user);
      setName('');
      setEmail('');
      setPassword('');
      void client.invalidateQueries({ queryKey: ['staff'] });
      void client.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    create.mutate();
  };
  const errors = { name: fieldError(create.error, 'name'), email: fieldError(create.error, 'email'), password: fieldError(create.error, 'password') };
  return (
    <Section aria-labelledby="create-user-heading">
      <h2 id="create-user-heading">Add a person</h2>
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <FormRow>
          <Field>
            <Field.Label>Name</Field.Label>
            <Input value={name} onChange={(e) => setName(e.target.value)} validation={errors.name ? 'error' : undefined} required />
            {errors.name ? <Field.Message validation="error">{errors.name}</Field.Message> : null}
          </Field>
          <Field>
            <Field.Label>Email</Field.Label>
            <Input type="email" value={email} onChange={(e) => setEmail(e.target.value)} validation={errors.email ? 'error' : undefined} required />
            {errors.email ? <Field.Message validation="error">{errors.email}</Field.Message> : null}
          </Field>
          <Field>
            <Field.Label>Role</Field.Label>
            <Select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="agent">Agent</option>
              <option value="admin">Admin</option>
            </Select>
          </Field>
          <Field>
            <Field.Label>Password</Field.Label>
            <Field.Hint>At least 8 characters; they can change it later.</Field.Hint>
            <Input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} validation={errors.password ? 'error' : undefined} required />
            {errors.password ? <Field.Message validation="error">{errors.password}</Field.Message> : null}
          </Field>
        </FormRow>
        <FormError error={create.error} fields={['name', 'email', 'password']} />
        {created ? (
          <Alert type="success" role="status">
            {created.name} can now sign in as {created.email}.
          </Alert>
        ) : null}
        <div>
          <Button type="submit" isPrimary disabled={create.isPending || !name.trim() || !email.trim() || password.length < 8}>
            Create user
          </Button>
        </div>
      </form>
    </Section>
  );
}

function ResetPasswordModal({ user, onClose }: { user: User; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const reset = useMutation({
    mutationFn: () => api<void>(`/api/v2/users/${user.id}/password`, { method: 'POST', body: { password } }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    reset.mutate();
  };
  const error = fieldError(reset.error, 'password');
  return (
    <Modal onClose={onClose} aria-label={`Reset password for ${user.name}`}>
      <form onSubmit={submit}>
        <Modal.Header tag="h2">Reset password for {user.name}</Modal.Header>
        <Modal.Body style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
          {reset.isSuccess ? (
            <Alert type="success" role="status">
              The password is changed. {user.name} is signed out everywhere and signs in with the new one.
            </Alert>
          ) : (
            <Field>
              <Field.Label>New password</Field.Label>
              <Field.Hint>At least 8 characters. Their sessions and cached credentials end.</Field.Hint>
              <Input type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} validation={error ? 'error' : undefined} />
              {error ? <Field.Message validation="error">{error}</Field.Message> : null}
            </Field>
          )}
          <FormError error={reset.error} fields={['password']} />
        </Modal.Body>
        <Modal.Footer>
          <Modal.FooterItem>
            <Button isBasic onClick={onClose}>
              {reset.isSuccess ? 'Done' : 'Cancel'}
            </Button>
          </Modal.FooterItem>
          {reset.isSuccess ? null : (
            <Modal.FooterItem>
              <Button isPrimary type="submit" disabled={reset.isPending || password.length < 8}>
                Set password
              </Button>
            </Modal.FooterItem>
          )}
        </Modal.Footer>
      </form>
      <Modal.Close aria-label="Close" />
    </Modal>
  );
}

const ROLE_LABEL: Record<Role, string> = { agent: 'Agent', admin: 'Admin', 'end-user': 'End user' };
const A_ROLE: Record<Role, string> = { agent: 'an agent', admin: 'an admin', 'end-user': 'an end user' };

/** What the Users page lists: agents and admins (the default), or one role. */
const SHOW = [
  ['staff', 'Agents and admins'],
  ['agent', 'Agents'],
  ['admin', 'Admins'],
  ['end-user', 'End users'],
] as const;
type Show = (typeof SHOW)[number][0];
const PER_PAGE = 100;

function firstPage(show: Show): string {
  return show === 'staff' ? STAFF_PATH : `/api/v2/users?role=${encodeURIComponent(show)}&per_page=${PER_PAGE}`;
}

/** What a change of role means for the person, said before it is made. */
function roleChangeText(user: User, role: Role): string {
  const signIn =
    role === 'end-user'
      ? 'They can no longer sign in to this console; they stay on as a requester.'
      : role === 'admin'
        ? 'They can then manage users, groups, API tokens and integrations.'
        : 'They keep the console but lose the admin pages.';
  return `${user.name} becomes ${A_ROLE[role]}. ${signIn} They are signed out everywhere and sign in again.`;
}

type Pending = { kind: 'deactivate'; user: User } | { kind: 'role'; user: User; role: Role };

function PeopleTable() {
  const me = useMe();
  const client = useQueryClient();
  const [show, setShow] = useState<Show>('staff');
  const [path, setPath] = useState(firstPage('staff'));
  const [resetting, setResetting] = useState<User | null>(null);
  const [confirming, setConfirming] = useState<Pending | null>(null);
  const people = useQuery({
    queryKey: ['users', path],
    queryFn: ({ signal }) => api<{ users: User[] } & Page>(path, { signal }),
    placeholderData: (previous) => previous,
  });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['users'] });
    void client.invalidateQueries({ queryKey: ['staff'] });
  };
  const change = useMutation({
    mutationFn: ({ user, changes }: { user: User; changes: { suspended?: boolean; role?: Role } }) =>
      api<{ user: User }>(`/api/v2/users/${user.id}`, { method: 'PUT', body: { user: changes } }),
    onSuccess: () => setConfirming(null),
    onSettled: refresh,
  });
  const ask = (next: Pending) => {
    change.reset();
    setConfirming(next);
  };

  const page = Number(new URL(path, window.location.origin).searchParams.get('page') ?? '1') || 1;
  const data = people.data;
  const from = data && data.users.length ? (page - 1) * PER_PAGE + 1 : 0;

  return (
    <>
      <FormRow style={{ marginBottom: 12 }}>
        <Field>
          <Field.Label>Show</Field.Label>
          <Select
            value={show}
            onChange={(e) => {
              const next = e.target.value as Show;
              setShow(next);
              setPath(firstPage(next));
            }}
          >
            {SHOW.map(([key, label]) => (
              <option key={key} value={key}>
                {label}
              </option>
            ))}
          </Select>
        </Field>
      </FormRow>
      {change.error && !confirming ? (
        <Alert type="error" role="alert" style={{ marginBottom: 12 }}>
          {change.error.message}
        </Alert>
      ) : null}
      {people.isPending ? (
        <CenteredSpinner label="Loading people" />
      ) : people.isError ? (
        <ErrorState error={people.error} />
      ) : !data || data.users.length === 0 ? (
        <EmptyState title={show === 'end-user' ? 'No end users yet' : 'No agents or admins yet'}>{show === 'end-user' ? 'Requesters appear here once they write in.' : 'Add one above.'}</EmptyState>
      ) : (
        <Scroll>
          <Table aria-label={SHOW.find(([key]) => key === show)![1]}>
            <Table.Head>
              <Table.HeaderRow>
                <Table.HeaderCell>Name</Table.HeaderCell>
                <Table.HeaderCell>Email</Table.HeaderCell>
                <Table.HeaderCell>Role</Table.HeaderCell>
                <Table.HeaderCell>Status</Table.HeaderCell>
                <Table.HeaderCell>Added</Table.HeaderCell>
                <Table.HeaderCell>Actions</Table.HeaderCell>
              </Table.HeaderRow>
            </Table.Head>
            <Table.Body>
              {data.users.map((user) => {
                const status = statusOf(user);
                const deleted = user.active === false;
                const self = user.id === me.id;
                return (
                  <Table.Row key={user.id}>
                    <Table.Cell>
                      {user.name}
                      {self ? ' (you)' : ''}
                    </Table.Cell>
                    <Table.Cell>{user.email}</Table.Cell>
                    <Table.Cell>
                      {deleted || self ? (
                        ROLE_LABEL[user.role]
                      ) : (
                        <Field>
                          <Field.Label hidden>Role of {user.name}</Field.Label>
                          <Select
                            isCompact
                            value={user.role}
                            disabled={change.isPending}
                            onChange={(e) => {
                              const role = e.target.value as Role;
                              if (role !== user.role) ask({ kind: 'role', user, role });
                            }}
                          >
                            {(Object.keys(ROLE_LABEL) as Role[]).map((role) => (
                              <option key={role} value={role}>
                                {ROLE_LABEL[role]}
                              </option>
                            ))}
                          </Select>
                        </Field>
                      )}
                    </Table.Cell>
                    <Table.Cell>
                      <Tag size="small" hue={status.hue}>
                        {status.label}
                      </Tag>
                    </Table.Cell>
                    <Table.Cell>{user.created_at ? formatTime(user.created_at) : ''}</Table.Cell>
                    <Table.Cell>
                      <div style={{ display: 'flex', gap: 8, flexWrap: 'wrap' }}>
                        {deleted || self ? null : user.suspended ? (
                          <Button size="small" aria-label={`Reactivate ${user.name}`} disabled={change.isPending} onClick={() => change.mutate({ user, changes: { suspended: false } })}>
                            Reactivate
                          </Button>
                        ) : (
                          <Button size="small" isDanger aria-label={`Deactivate ${user.name}`} disabled={change.isPending} onClick={() => ask({ kind: 'deactivate', user })}>
                            Deactivate
                          </Button>
                        )}
                        {deleted ? null : (
                          <Button size="small" aria-label={`Reset password for ${user.name}`} onClick={() => setResetting(user)}>
                            Reset password
                          </Button>
                        )}
                      </div>
                    </Table.Cell>
                  </Table.Row>
                );
              })}
            </Table.Body>
          </Table>
        </Scroll>
      )}
      {data ? (
        <div style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap', marginTop: 12 }}>
          <Button size="small" disabled={!data.previous_page} onClick={() => data.previous_page && setPath(samePath(data.previous_page))}>
            Previous page
          </Button>
          <span aria-live="polite">
            {data.users.length ? `Showing ${from}–${from + data.users.length - 1} of ${data.count}` : `None of ${data.count}`}
          </span>
          <Button size="small" disabled={!data.next_page} onClick={() => data.next_page && setPath(samePath(data.next_page))}>
            Next page
          </Button>
        </div>
      ) : null}
      {resetting ? <ResetPasswordModal user={resetting} onClose={() => setResetting(null)} /> : null}
      {confirming?.kind === 'deactivate' ? (
        <ConfirmDialog
          title={`Deactivate ${confirming.user.name}?`}
          confirmLabel="Deactivate"
          pending={change.isPending}
          error={change.error}
          onClose={() => setConfirming(null)}
          onConfirm={() => change.mutate({ user: confirming.user, changes: { suspended: true } })}
        >
          {confirming.user.name} ({confirming.user.email}) is signed out at once, their API tokens stop working, and they cannot sign in until an admin reactivates them. Their tickets and side
          conversations stay as they are.
        </ConfirmDialog>
      ) : null}
      {confirming?.kind === 'role' ? (
        <ConfirmDialog
          title={`Make ${confirming.user.name} ${A_ROLE[confirming.role]}?`}
          confirmLabel="Change role"
          danger={confirming.role !== 'admin'}
          pending={change.isPending}
          error={change.error}
          onClose={() => setConfirming(null)}
          onConfirm={() => change.mutate({ user: confirming.user, changes: { role: confirming.role } })}
        >
          {roleChangeText(confirming.user, confirming.role)}
        </ConfirmDialog>
      ) : null}
    </>
  );
}

export function UsersPage() {
  return (
    <AdminPage title="Users" intro="The agents and admins who sign in to this console. Deactivating someone ends their sessions and API tokens' access at once; reactivating lets them back in.">
      <CreateUserForm />
      <Section aria-labelledby="people-heading">
        <h2 id="people-heading">People</h2>
        <PeopleTable />
      </Section>
    </AdminPage>
  );
}
