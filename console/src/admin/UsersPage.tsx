import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Select } from '@zendeskgarden/react-forms';
import { Modal } from '@zendeskgarden/react-modals';
import { Alert } from '@zendeskgarden/react-notifications';
import { Table } from '@zendeskgarden/react-tables';
import { Tag } from '@zendeskgarden/react-tags';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Role, User } from '../api/types';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime } from '../format';
import { useMe } from '../session';
import { AdminPage, fieldError, FormError, FormRow, Scroll, Section, useStaff } from './common';

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

function PeopleTable() {
  const me = useMe();
  const client = useQueryClient();
  const staff = useStaff();
  const [resetting, setResetting] = useState<User | null>(null);
  const suspend = useMutation({
    mutationFn: ({ user, suspended }: { user: User; suspended: boolean }) =>
      api<{ user: User }>(`/api/v2/users/${user.id}`, { method: 'PUT', body: { user: { suspended } } }),
    onSettled: () => void client.invalidateQueries({ queryKey: ['staff'] }),
  });

  if (staff.isPending) return <CenteredSpinner label="Loading people" />;
  if (staff.isError) return <ErrorState error={staff.error} />;
  if (staff.data.people.length === 0) return <EmptyState title="No agents or admins yet">Add one above.</EmptyState>;
  return (
    <>
      {suspend.error ? (
        <Alert type="error" role="alert" style={{ marginBottom: 12 }}>
          {suspend.error.message}
        </Alert>
      ) : null}
      <Scroll>
        <Table aria-label="Agents and admins">
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
            {staff.data.people.map((user) => {
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
                  <Table.Cell>{user.role === 'admin' ? 'Admin' : 'Agent'}</Table.Cell>
                  <Table.Cell>
                    <Tag size="small" hue={status.hue}>
                      {status.label}
                    </Tag>
                  </Table.Cell>
                  <Table.Cell>{formatTime(user.created_at)}</Table.Cell>
                  <Table.Cell>
                    <div style={{ display: 'flex', gap: 8, flexWrap: 'wrap' }}>
                      {deleted || self ? null : (
                        <Button
                          size="small"
                          isDanger={!user.suspended}
                          aria-label={`${user.suspended ? 'Reactivate' : 'Deactivate'} ${user.name}`}
                          disabled={suspend.isPending}
                          onClick={() => suspend.mutate({ user, suspended: !user.suspended })}
                        >
                          {user.suspended ? 'Reactivate' : 'Deactivate'}
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
      {staff.data.total > staff.data.people.length ? (
        <p>
          Showing {staff.data.people.length} of {staff.data.total}: the first 100 agents and the first 100 admins.
        </p>
      ) : null}
      {resetting ? <ResetPasswordModal user={resetting} onClose={() => setResetting(null)} /> : null}
    </>
  );
}

export function UsersPage() {
  return (
    <AdminPage title="Users" intro="The agents and admins who sign in to this console. Deactivating someone ends their sessions and API tokens' access at once; reactivating lets them back in.">
      <CreateUserForm />
      <Section aria-labelledby="people-heading">
        <h2 id="people-heading">Agents and admins</h2>
        <PeopleTable />
      </Section>
    </AdminPage>
  );
}
