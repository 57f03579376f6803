import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Select } from '@zendeskgarden/react-forms';
import { Tag } from '@zendeskgarden/react-tags';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Group, GroupMembership, Page, User } from '../api/types';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { AdminPage, fieldError, FormError, FormRow, Section, useStaff } from './common';

function CreateGroupForm() {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: () => api<{ group: Group }>('/api/v2/groups', { method: 'POST', body: { group: { name: name.trim() } } }),
    onSuccess: () => {
      setName('');
      void client.invalidateQueries({ queryKey: ['groups'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const error = fieldError(create.error, 'name');
  return (
    <Section aria-labelledby="create-group-heading">
      <h2 id="create-group-heading">New group</h2>
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <FormRow>
          <Field>
            <Field.Label>Group name</Field.Label>
            <Input value={name} onChange={(e) => setName(e.target.value)} validation={error ? 'error' : undefined} />
            {error ? <Field.Message validation="error">{error}</Field.Message> : null}
          </Field>
          <Button type="submit" isPrimary disabled={create.isPending || !name.trim()}>
            Create group
          </Button>
        </FormRow>
        <FormError error={create.error} fields={['name']} />
      </form>
    </Section>
  );
}

function GroupMembers({ group, staff }: { group: Group; staff: User[] }) {
  const client = useQueryClient();
  const [userId, setUserId] = useState('');
  const memberships = useQuery({
    queryKey: ['group_memberships', group.id],
    queryFn: ({ signal }) => api<{ group_memberships: GroupMembership[] } & Page>(`/api/v2/group_memberships?group_id=${group.id}&per_page=100`, { signal }),
  });
  const add = useMutation({
    mutationFn: () => api<{ group_membership: GroupMembership }>('/api/v2/group_memberships', { method: 'POST', body: { group_membership: { user_id: Number(userId), group_id: group.id } } }),
    onSuccess: () => {
      setUserId('');
      void client.invalidateQueries({ queryKey: ['group_memberships', group.id] });
    },
  });
  const remove = useMutation({
    mutationFn: (membership: GroupMembership) => api<void>(`/api/v2/group_memberships/${membership.id}`, { method: 'DELETE' }),
    onSettled: () => void client.invalidateQueries({ queryKey: ['group_memberships', group.id] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate();
  };
  const byId = new Map(staff.map((u) => [u.id, u]));
  const memberIds = new Set((memberships.data?.group_memberships ?? []).map((m) => m.user_id));
  const candidates = staff.filter((u) => !memberIds.has(u.id) && u.active !== false && !u.suspended);
  const headingId = `group-${group.id}-heading`;
  const error = fieldError(add.error, 'user_id', 'group_id');

  return (
    <Section aria-labelledby={headingId}>
      <h2 id={headingId}>{group.name}</h2>
      {memberships.isPending ? (
        <CenteredSpinner label={`Loading the members of ${group.name}`} />
      ) : memberships.isError ? (
        <ErrorState error={memberships.error} />
      ) : memberships.data.group_memberships.length === 0 ? (
        <p>No members yet.</p>
      ) : (
        <ul aria-label={`Members of ${group.name}`} style={{ display: 'flex', flexWrap: 'wrap', gap: 8, listStyle: 'none', padding: 0, margin: '0 0 12px' }}>
          {memberships.data.group_memberships.map((m) => {
            const name = byId.get(m.user_id)?.name ?? `User #${m.user_id}`;
            return (
              <li key={m.id} style={{ display: 'flex', alignItems: 'center', gap: 4 }}>
                <Tag size="large">{name}</Tag>
                <Button size="small" isBasic isDanger aria-label={`Remove ${name} from ${group.name}`} disabled={remove.isPending} onClick={() => remove.mutate(m)}>
                  Remove
                </Button>
              </li>
            );
          })}
        </ul>
      )}
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 8 }}>
        <FormRow>
          <Field>
            <Field.Label>Add to {group.name}</Field.Label>
            <Select value={userId} onChange={(e) => setUserId(e.target.value)} validation={error ? 'error' : undefined}>
              <option value="">{candidates.length ? 'Choose an agent…' : 'Everyone is already in this group'}</option>
              {candidates.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </Select>
            {error ? <Field.Message validation="error">{error}</Field.Message> : null}
          </Field>
          <Button type="submit" disabled={!userId || add.isPending} aria-label={`Add member to ${group.name}`}>
            Add member
          </Button>
        </FormRow>
        <FormError error={add.error} fields={['user_id', 'group_id']} />
        <FormError error={remove.error} fields={[]} />
      </form>
    </Section>
  );
}

export function GroupsPage() {
  const groups = useQuery({
    queryKey: ['groups'],
    queryFn: ({ signal }) => api<{ groups: Group[] } & Page>('/api/v2/groups?per_page=100', { signal }),
  });
  const staff = useStaff();
  return (
    <AdminPage title="Groups" intro="Groups of agents: child tickets go to a group, and the Tickets view's My groups filter shows an agent their groups' tickets.">
      <CreateGroupForm />
      {groups.isPending || staff.isPending ? (
        <CenteredSpinner label="Loading groups" />
      ) : groups.isError || staff.isError ? (
        <ErrorState error={groups.error ?? staff.error} />
      ) : groups.data.groups.length === 0 ? (
        <EmptyState title="No groups yet">Create one above, then add its members.</EmptyState>
      ) : (
        groups.data.groups.map((g) => <GroupMembers key={g.id} group={g} staff={staff.data.people} />)
      )}
    </AdminPage>
  );
}
