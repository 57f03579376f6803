import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Select } from '@zendeskgarden/react-forms';
import { Modal } from '@zendeskgarden/react-modals';
import { Alert } from '@zendeskgarden/react-notifications';
import { Table } from '@zendeskgarden/react-tables';
import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { ApiToken, Page } from '../api/types';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime } from '../format';
import { useMe } from '../session';
import { AdminPage, fieldError, FormError, FormRow, Scroll, Section, useStaff } from './common';

/** The token just created: shown this once, with how to use it. */
function NewToken({ token, email }: { token: ApiToken; email: string }) {
  return (
    <Alert type="success" role="status">
      <Alert.Title>Copy the token now: it is not shown again</Alert.Title>
      <Field>
        <Field.Label>New API token</Field.Label>
        <Field.Hint>
          Use it with Basic auth as <code>{email}/token</code> and this token as the password.
        </Field.Hint>
        <Input readOnly value={token.token ?? ''} onFocus={(e) => e.target.select()} style={{ fontFamily: 'monospace' }} />
      </Field>
    </Alert>
  );
}

function CreateTokenForm() {
  const me = useMe();
  const client = useQueryClient();
  const staff = useStaff();
  const [description, setDescription] = useState('');
  const [owner, setOwner] = useState(String(me.id));
  const [created, setCreated] = useState<ApiToken | null>(null);
  const create = useMutation({
    mutationFn: () =>
      api<{ api_token: ApiToken }>('/api/v2/api_tokens', {
        method: 'POST',
        body: { api_token: { description: description.trim() || undefined, user_id: Number(owner) } },
      }),
    onSuccess: (res) => {
      setCreated(res.api_token);
      setDescription('');
      void client.invalidateQueries({ queryKey: ['api_tokens'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    create.mutate();
  };
  const ownerEmail = (id: number) => (id === me.id ? me.email : (staff.data?.people.find((u) => u.id === id)?.email ?? ''));
  const errors = { description: fieldError(create.error, 'description'), owner: fieldError(create.error, 'user_id') };
  const owners = (staff.data?.people ?? []).filter((u) => u.active !== false && !u.suspended);
  return (
    <Section aria-labelledby="create-token-heading">
      <h2 id="create-token-heading">New token</h2>
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <FormRow>
          <Field>
            <Field.Label>Description</Field.Label>
            <Field.Hint>What uses it, e.g. the CRM sync.</Field.Hint>
            <Input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={255} validation={errors.description ? 'error' : undefined} />
            {errors.description ? <Field.Message validation="error">{errors.description}</Field.Message> : null}
          </Field>
          <Field>
            <Field.Label>Acts as</Field.Label>
            <Field.Hint>The token has this person's access.</Field.Hint>
            <Select value={owner} onChange={(e) => setOwner(e.target.value)} validation={errors.owner ? 'error' : undefined}>
              {owners.some((u) => u.id === me.id) ? null : <option value={me.id}>{me.name}</option>}
              {owners.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </Select>
            {errors.owner ? <Field.Message validation="error">{errors.owner}</Field.Message> : null}
          </Field>
          <Button type="submit" isPrimary disabled={create.isPending}>
            Create token
          </Button>
        </FormRow>
        <FormError error={create.error} fields={['description', 'user_id']} />
        {created ? <NewToken token={created} email={ownerEmail(created.user_id)} /> : null}
      </form>
    </Section>
  );
}

function RevokeModal({ token, onClose }: { token: ApiToken; onClose: () => void }) {
  const client = useQueryClient();
  const mine = useMe().id === token.user_id;
  const revoke = useMutation({
    mutationFn: () => api<void>(`/api/v2/api_tokens/${token.id}`, { method: 'DELETE' }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['api_tokens'] });
      onClose();
    },
  });
  const label = token.description || `the token ending in ${token.token_hint}`;
  return (
    <Modal onClose={onClose} aria-label="Revoke token">
      <Modal.Header tag="h2" isDanger>
        Revoke token
      </Modal.Header>
      <Modal.Body style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
        <p style={{ margin: 0 }}>Revoke {label}? Anything still using it is refused from now on. This cannot be undone.</p>
        {mine ? (
          <Alert type="warning">
            This token acts as you: revoking it changes your credentials, so your sessions end too, this one included. You sign in again afterwards.
          </Alert>
        ) : null}
        <FormError error={revoke.error} fields={[]} />
      </Modal.Body>
      <Modal.Footer>
        <Modal.FooterItem>
          <Button isBasic onClick={onClose}>
            Cancel
          </Button>
        </Modal.FooterItem>
        <Modal.FooterItem>
          <Button isPrimary isDanger disabled={revoke.isPending} onClick={() => revoke.mutate()}>
            Revoke
          </Button>
        </Modal.FooterItem>
      </Modal.Footer>
      <Modal.Close aria-label="Close" />
    </Modal>
  );
}

function TokensTable() {
  const staff = useStaff();
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const tokens = useQuery({
    queryKey: ['api_tokens'],
    queryFn: ({ signal }) => api<{ api_tokens: ApiToken[] } & Page>('/api/v2/api_tokens?per_page=100', { signal }),
  });
  if (tokens.isPending) return <CenteredSpinner label="Loading API tokens" />;
  if (tokens.isError) return <ErrorState error={tokens.error} />;
  if (tokens.data.api_tokens.length === 0) return <EmptyState title="No API tokens yet">Create one above for a script or another system.</EmptyState>;
  const owner = (id: number) => staff.data?.people.find((u) => u.id === id)?.name ?? `User #${id}`;
  return (
    <>
      <Scroll>
        <Table aria-label="API tokens">
          <Table.Head>
            <Table.HeaderRow>
              <Table.HeaderCell>Description</Table.HeaderCell>
              <Table.HeaderCell>Acts as</Table.HeaderCell>
              <Table.HeaderCell>Token</Table.HeaderCell>
              <Table.HeaderCell>Created</Table.HeaderCell>
              <Table.HeaderCell>Actions</Table.HeaderCell>
            </Table.HeaderRow>
          </Table.Head>
          <Table.Body>
            {tokens.data.api_tokens.map((t) => (
              <Table.Row key={t.id}>
                <Table.Cell>{t.description || '(no description)'}</Table.Cell>
                <Table.Cell>{owner(t.user_id)}</Table.Cell>
                <Table.Cell>
                  <code>…{t.token_hint}</code>
                </Table.Cell>
                <Table.Cell>{formatTime(t.created_at)}</Table.Cell>
                <Table.Cell>
                  <Button size="small" isDanger aria-label={`Revoke ${t.description || `token ending in ${t.token_hint}`}`} onClick={() => setRevoking(t)}>
                    Revoke
                  </Button>
                </Table.Cell>
              </Table.Row>
            ))}
          </Table.Body>
        </Table>
      </Scroll>
      {tokens.data.count > tokens.data.api_tokens.length ? <p>Showing the first {tokens.data.api_tokens.length} of {tokens.data.count} tokens.</p> : null}
      {revoking ? <RevokeModal token={revoking} onClose={() => setRevoking(null)} /> : null}
    </>
  );
}

export function ApiTokensPage() {
  return (
    <AdminPage title="API tokens" intro="Tokens let scripts and other systems call Sideline's Zendesk-style API. Only a hint of each token is kept; the token itself is shown once, when it is created.">
      <CreateTokenForm />
      <Section aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Tokens</h2>
        <TokensTable />
      </Section>
    </AdminPage>
  );
}
