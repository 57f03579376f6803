import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input } from '@zendeskgarden/react-forms';
import { Alert } from '@zendeskgarden/react-notifications';
import { Table } from '@zendeskgarden/react-tables';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { SlackWorkspace, TeamsBot } from '../api/types';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime } from '../format';
import { AdminPage, ConfirmDialog, fieldError, FormError, FormRow, Scroll, Section } from './common';

/** A text field with the API's message for it. */
function TextField(props: {
  label: string;
  hint?: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  secret?: boolean;
}) {
  return (
    <Field>
      <Field.Label>{props.label}</Field.Label>
      {props.hint ? <Field.Hint>{props.hint}</Field.Hint> : null}
      <Input
        type={props.secret ? 'password' : 'text'}
        autoComplete={props.secret ? 'off' : undefined}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        validation={props.error ? 'error' : undefined}
      />
      {props.error ? <Field.Message validation="error">{props.error}</Field.Message> : null}
    </Field>
  );
}

function SlackSection() {
  const client = useQueryClient();
  const [teamId, setTeamId] = useState('');
  const [name, setName] = useState('');
  const [botToken, setBotToken] = useState('');
  const [signingSecret, setSigningSecret] = useState('');
  const [disconnecting, setDisconnecting] = useState<SlackWorkspace | null>(null);
  const workspaces = useQuery({
    queryKey: ['integrations', 'slack'],
    queryFn: ({ signal }) => api<{ slack_workspaces: SlackWorkspace[] }>('/api/v2/sideline/integrations/slack', { signal }),
  });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['integrations', 'slack'] });
    void client.invalidateQueries({ queryKey: ['destinations'] });
  };
  const connect = useMutation({
    mutationFn: () =>
      api<{ slack_workspace: SlackWorkspace }>('/api/v2/sideline/integrations/slack', {
        method: 'POST',
        body: { slack_workspace: { team_id: teamId.trim(), bot_token: botToken, signing_secret: signingSecret, ...(name.trim() ? { name: name.trim() } : {}) } },
      }),
    onSuccess: () => {
      setTeamId('');
      setName('');
      setBotToken('');
      setSigningSecret('');
      refresh();
    },
  });
  const disconnect = useMutation({
    mutationFn: (team: string) => api<void>(`/api/v2/sideline/integrations/slack/${encodeURIComponent(team)}`, { method: 'DELETE' }),
    onSuccess: () => setDisconnecting(null),
    onSettled: refresh,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    connect.mutate();
  };
  const fields = ['team_id', 'name', 'bot_token', 'signing_secret'];

  return (
    <Section aria-labelledby="slack-heading">
      <h2 id="slack-heading">Slack</h2>
      {workspaces.isPending ? (
        <CenteredSpinner label="Loading Slack workspaces" />
      ) : workspaces.isError ? (
        <ErrorState error={workspaces.error} />
      ) : workspaces.data.slack_workspaces.length === 0 ? (
        <EmptyState title="No Slack workspace connected">Connect one below to start side conversations in its channels.</EmptyState>
      ) : (
        <Scroll>
          <Table aria-label="Connected Slack workspaces">
            <Table.Head>
              <Table.HeaderRow>
                <Table.HeaderCell>Workspace</Table.HeaderCell>
                <Table.HeaderCell>Team id</Table.HeaderCell>
                <Table.HeaderCell>Connected</Table.HeaderCell>
                <Table.HeaderCell>Actions</Table.HeaderCell>
              </Table.HeaderRow>
            </Table.Head>
            <Table.Body>
              {workspaces.data.slack_workspaces.map((w) => (
                <Table.Row key={w.id}>
                  <Table.Cell>{w.name ?? '(no name)'}</Table.Cell>
                  <Table.Cell>
                    <code>{w.team_id}</code>
                  </Table.Cell>
                  <Table.Cell>{formatTime(w.created_at)}</Table.Cell>
                  <Table.Cell>
                    <Button size="small" isDanger disabled={disconnect.isPending} aria-label={`Disconnect ${w.name ?? w.team_id}`} onClick={() => {
                        disconnect.reset();
                        setDisconnecting(w);
                      }}>
                      Disconnect
                    </Button>
                  </Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table>
        </Scroll>
      )}
      {disconnecting ? (
        <ConfirmDialog
          title={`Disconnect ${disconnecting.name ?? disconnecting.team_id}?`}
          confirmLabel="Disconnect"
          pending={disconnect.isPending}
          error={disconnect.error}
          onClose={() => setDisconnecting(null)}
          onConfirm={() => disconnect.mutate(disconnecting.team_id)}
        >
          Sideline forgets this workspace's bot token and signing secret. Messages still waiting to go to its channels fail, replies from Slack are no longer taken in, and agents
          cannot start side conversations there until it is connected again.
        </ConfirmDialog>
      ) : null}
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12, marginTop: 16 }} aria-label="Connect a Slack workspace">
        <FormRow>
          <TextField label="Team id" hint="The workspace's id, e.g. T123ABC." value={teamId} onChange={setTeamId} error={fieldError(connect.error, 'team_id')} />
          <TextField label="Workspace name" hint="Optional, as agents will see it." value={name} onChange={setName} error={fieldError(connect.error, 'name')} />
        </FormRow>
        <FormRow>
          <TextField label="Bot token" hint="The app's xoxb- token. Stored encrypted." value={botToken} onChange={setBotToken} error={fieldError(connect.error, 'bot_token')} secret />
          <TextField label="Signing secret" hint="Slack signs its events with it. Stored encrypted." value={signingSecret} onChange={setSigningSecret} error={fieldError(connect.error, 'signing_secret')} secret />
        </FormRow>
        <FormError error={connect.error} fields={fields} />
        <div>
          <Button type="submit" isPrimary disabled={connect.isPending || !teamId.trim() || !botToken || !signingSecret}>
            Connect workspace
          </Button>
        </div>
      </form>
    </Section>
  );
}

function TeamsSection() {
  const client = useQueryClient();
  const [appId, setAppId] = useState('');
  const [appPassword, setAppPassword] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [serviceUrl, setServiceUrl] = useState('https://smba.trafficmanager.net/teams/');
  const [disconnecting, setDisconnecting] = useState(false);
  const bot = useQuery({
    queryKey: ['integrations', 'teams'],
    // 404 is the answer when no bot is connected: an empty state, not an error.
    queryFn: ({ signal }) =>
      api<{ teams_bot: TeamsBot }>('/api/v2/sideline/integrations/teams', { signal }).then(
        (r) => r.teams_bot,
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return null;
          throw err;
        },
      ),
  });
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['integrations', 'teams'] });
    void client.invalidateQueries({ queryKey: ['destinations'] });
  };
  const connect = useMutation({
    mutationFn: () =>
      api<{ teams_bot: TeamsBot }>('/api/v2/sideline/integrations/teams', {
        method: 'PUT',
        body: { teams_bot: { app_id: appId.trim(), app_password: appPassword, tenant_id: tenantId.trim(), service_url: serviceUrl.trim() } },
      }),
    onSuccess: () => {
      setAppPassword('');
      refresh();
    },
  });
  const disconnect = useMutation({
    mutationFn: () => api<void>('/api/v2/sideline/integrations/teams', { method: 'DELETE' }),
    onSuccess: () => setDisconnecting(false),
    onSettled: refresh,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    connect.mutate();
  };
  const connected = bot.data ?? null;

  return (
    <Section aria-labelledby="teams-heading">
      <h2 id="teams-heading">Microsoft Teams</h2>
      {bot.isPending ? (
        <CenteredSpinner label="Loading the Teams bot" />
      ) : bot.isError ? (
        <ErrorState error={bot.error} />
      ) : connected ? (
        <div style={{ display: 'flex', flexWrap: 'wrap', gap: 12, alignItems: 'center' }}>
          <Alert type="success" role="status" style={{ flex: '1 1 260px' }}>
            <Alert.Title>Teams bot connected</Alert.Title>
            App <code>{connected.app_id}</code> in tenant <code>{connected.tenant_id}</code>, posting to {connected.service_url}, since {formatTime(connected.created_at)}.
          </Alert>
          <Button
            isDanger
            disabled={disconnect.isPending}
            onClick={() => {
              disconnect.reset();
              setDisconnecting(true);
            }}
          >
            Disconnect Teams bot
          </Button>
        </div>
      ) : (
        <EmptyState title="No Teams bot connected">Connect the bot below to start side conversations in Teams channels.</EmptyState>
      )}
      {disconnecting && connected ? (
        <ConfirmDialog
          title="Disconnect the Teams bot?"
          confirmLabel="Disconnect"
          pending={disconnect.isPending}
          error={disconnect.error}
          onClose={() => setDisconnecting(false)}
          onConfirm={() => disconnect.mutate()}
        >
          Sideline forgets app {connected.app_id} and its password. Messages still waiting to go to Teams fail, replies from Teams are no longer taken in, and agents cannot start
          side conversations in Teams channels until a bot is connected again.
        </ConfirmDialog>
      ) : null}
      <form onSubmit={submit} style={{ display: 'flex', flexDirection: 'column', gap: 12, marginTop: 16 }} aria-label="Connect the Teams bot">
        <FormRow>
          <TextField label="App id" hint="The bot's Microsoft app id." value={appId} onChange={setAppId} error={fieldError(connect.error, 'app_id')} />
          <TextField label="App password" hint="The app's client secret. Stored encrypted." value={appPassword} onChange={setAppPassword} error={fieldError(connect.error, 'app_password')} secret />
        </FormRow>
        <FormRow>
          <TextField label="Tenant id" value={tenantId} onChange={setTenantId} error={fieldError(connect.error, 'tenant_id')} />
          <TextField label="Service URL" hint="Where the Bot Framework takes the bot's messages." value={serviceUrl} onChange={setServiceUrl} error={fieldError(connect.error, 'service_url')} />
        </FormRow>
        <FormError error={connect.error} fields={['app_id', 'app_password', 'tenant_id', 'service_url']} />
        <div>
          <Button type="submit" isPrimary disabled={connect.isPending || !appId.trim() || !appPassword || !tenantId.trim() || !serviceUrl.trim()}>
            {connected ? 'Replace Teams bot' : 'Connect Teams bot'}
          </Button>
        </div>
      </form>
    </Section>
  );
}

export function IntegrationsPage() {
  return (
    <AdminPage title="Integrations" intro="Connect Slack workspaces and the Microsoft Teams bot so agents can start side conversations there. Secrets are stored encrypted and never shown again.">
      <SlackSection />
      <TeamsSection />
    </AdminPage>
  );
}
