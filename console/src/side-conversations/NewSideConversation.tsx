import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Select, Textarea } from '@zendeskgarden/react-forms';
import { Alert } from '@zendeskgarden/react-notifications';
import { LG } from '@zendeskgarden/react-typography';
import { Link } from 'react-router';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, type FieldErrors } from '../api/client';
import type { Destinations, Group, Page, SideConversation, SlackChannelList, Ticket } from '../api/types';
import { useStaff } from '../admin/common';
import { ErrorState } from '../components/States';
import { useMe } from '../session';
import { textToHtml } from '../format';
import { AttachFiles, readyAttachments, type PendingUpload } from './Attachments';
import { KIND_LABEL, type Kind } from './kind';
import { RecipientsInput, type Recipient } from './RecipientsInput';

type FieldName = 'to' | 'group' | 'agent' | 'workspace' | 'channel' | 'subject' | 'message' | 'attachments' | 'general';

/** Which control a validation key of the API (e.g. `message.to[0].email`) belongs to. */
export function fieldOfKey(key: string, kind: Kind): FieldName {
  if (key.startsWith('message.to') || key === 'to' || key.startsWith('to[')) {
    if (kind === 'child_ticket') return key.includes('support_agent_id') ? 'agent' : 'group';
    if (kind === 'slack') return key.includes('slack_workspace_id') ? 'workspace' : 'channel';
    if (kind === 'msteams') return 'channel';
    return 'to';
  }
  if (key === 'message.subject' || key === 'subject') return 'subject';
  if (key.startsWith('message.body') || key.startsWith('message.html_body') || key === 'body') return 'message';
  if (key.startsWith('message.attachment_ids')) return 'attachments';
  return 'general';
}

function groupErrors(fields: FieldErrors, kind: Kind): Partial<Record<FieldName, string>> {
  const out: Partial<Record<FieldName, string>> = {};
  for (const [key, messages] of Object.entries(fields)) {
    const name = fieldOfKey(key, kind);
    out[name] = [out[name], ...messages].filter(Boolean).join(' ');
  }
  return out;
}

/** A channel id: typed, or picked from the channels used before (a datalist the browser offers). */
function ChannelField(props: { id: string; hint: string; known: string[]; value: string; onChange: (value: string) => void; error: string | undefined }) {
  return (
    <Field>
      <Field.Label>Channel</Field.Label>
      <Field.Hint>{props.hint}</Field.Hint>
      <Input
        list={props.known.length ? props.id : undefined}
        autoComplete="off"
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        validation={props.error ? 'error' : undefined}
      />
      {props.known.length ? (
        <datalist id={props.id}>
          {props.known.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
      ) : null}
      {props.error ? <Field.Message validation="error">{props.error}</Field.Message> : null}
    </Field>
  );
}

/** The choice in the Channel list that reveals a typed channel id instead. */
const OTHER_CHANNEL = '__other__';

/**
 * The Slack channel: a list of the workspace's real channels (read from Slack by the server), with
 * "Another channel" for one typed by id; when Slack cannot be asked, the typed id alone.
 */
function SlackChannelField(props: { teamId: string; used: string[]; value: string; onChange: (value: string) => void; error: string | undefined }) {
  const [typing, setTyping] = useState(false);
  const channels = useQuery({
    queryKey: ['slack_channels', props.teamId],
    queryFn: ({ signal }) => api<SlackChannelList>(`/api/v2/sideline/side_conversation_destinations/slack/${encodeURIComponent(props.teamId)}/channels`, { signal }),
    enabled: props.teamId !== '',
    staleTime: 60_000,
    retry: false,
  });
  useEffect(() => setTyping(false), [props.teamId]);

  if (channels.isError || !props.teamId) {
    return (
      <>
        {channels.isError ? (
          <Alert type="warning" role="status">
            The channels of this workspace could not be listed ({channels.error.message}). Type the channel id instead.
          </Alert>
        ) : null}
        <ChannelField
          id="slack-channels"
          hint="A channel used before, or a channel id such as C0123456 (the bot must be in the channel)."
          known={props.used}
          value={props.value}
          onChange={props.onChange}
          error={props.error}
        />
      </>
    );
  }
  const list = channels.data?.slack_channels ?? [];
  const member = list.filter((c) => c.is_member);
  const others = list.filter((c) => !c.is_member);
  const listed = list.some((c) => c.id === props.value);
  const label = (c: SlackChannelList['slack_channels'][number]) => `#${c.name}${c.is_private ? ' (private)' : ''}`;
  return (
    <>
      <Field>
        <Field.Label>Channel</Field.Label>
        <Field.Hint>
          {channels.data && !channels.data.complete
            ? 'The first 2,000 channels of the workspace; choose Another channel for the rest.'
            : 'The bot posts in the channel, so it must be in it (invite it with /invite).'}
        </Field.Hint>
        <Select
          value={typing ? OTHER_CHANNEL : listed ? props.value : ''}
          disabled={channels.isPending}
          validation={props.error && !typing ? 'error' : undefined}
          onChange={(e) => {
            if (e.target.value === OTHER_CHANNEL) {
              setTyping(true);
              props.onChange('');
            } else {
              setTyping(false);
              props.onChange(e.target.value);
            }
          }}
        >
          <option value="">{channels.isPending ? 'Loading channels…' : list.length ? 'Choose a channel…' : 'No channels visible to the bot'}</option>
          {member.length ? (
            <optgroup label="Channels the bot is in">
              {member.map((c) => (
                <option key={c.id} value={c.id}>
                  {label(c)}
                </option>
              ))}
            </optgroup>
          ) : null}
          {others.length ? (
            <optgroup label="Other channels (invite the bot first)">
              {others.map((c) => (
                <option key={c.id} value={c.id}>
                  {label(c)}
                </option>
              ))}
            </optgroup>
          ) : null}
          <option value={OTHER_CHANNEL}>Another channel (type its id)…</option>
        </Select>
        {props.error && !typing ? <Field.Message validation="error">{props.error}</Field.Message> : null}
      </Field>
      {typing ? (
        <Field>
          <Field.Label>Channel id</Field.Label>
          <Field.Hint>Such as C0123456, from the channel's details in Slack.</Field.Hint>
          <Input
            list={props.used.length ? 'slack-channels' : undefined}
            autoComplete="off"
            value={props.value}
            onChange={(e) => props.onChange(e.target.value)}
            validation={props.error ? 'error' : undefined}
          />
          {props.used.length ? (
            <datalist id="slack-channels">
              {props.used.map((c) => (
                <option key={c} value={c} />
              ))}
            </datalist>
          ) : null}
          {props.error ? <Field.Message validation="error">{props.error}</Field.Message> : null}
        </Field>
      ) : null}
    </>
  );
}

/** Nothing to send with yet: admins are pointed at Integrations, agents at their admins. */
function NotConnected({ what }: { what: string }) {
  const me = useMe();
  return (
    <Alert type="info" role="status">
      {what}.{' '}
      {me.role === 'admin' ? <Link to="/admin/integrations">Connect it under Integrations.</Link> : 'Ask an admin to connect it under Integrations.'}
    </Alert>
  );
}

export function NewSideConversation({ ticket, onClose, onCreated }: { ticket: Ticket; onClose: () => void; onCreated: (id: string) => void }) {
  const client = useQueryClient();
  const [kind, setKind] = useState<Kind>('email');
  const [recipients, setRecipients] = useState<Recipient[]>([]);
  const [groupId, setGroupId] = useState('');
  const [agentId, setAgentId] = useState('');
  const [workspace, setWorkspace] = useState('');
  const [channel, setChannel] = useState('');
  const [subject, setSubject] = useState(ticket.subject);
  const [message, setMessage] = useState('');
  const [uploads, setUploads] = useState<PendingUpload[]>([]);
  const [blocker, setBlocker] = useState<string | null>(null);
  const typeRef = useRef<HTMLSelectElement>(null);

  useEffect(() => typeRef.current?.focus(), []);

  const groups = useQuery({
    queryKey: ['groups'],
    queryFn: () => api<{ groups: Group[] } & Page>('/api/v2/groups?per_page=100'),
    enabled: kind === 'child_ticket',
    staleTime: 60_000,
  });
  // Every agent and admin (all pages), for the optional Agent of a child ticket.
  const agents = useStaff(kind === 'child_ticket');
  const destinations = useQuery({
    queryKey: ['destinations'],
    queryFn: ({ signal }) => api<Destinations>('/api/v2/sideline/side_conversation_destinations', { signal }),
    enabled: kind === 'slack' || kind === 'msteams',
    staleTime: 30_000,
  });
  const slackWorkspaces = destinations.data?.slack_workspaces ?? [];
  // The first connected workspace is chosen until the agent picks another.
  useEffect(() => {
    if (kind === 'slack' && !slackWorkspaces.some((w) => w.team_id === workspace) && slackWorkspaces[0]) setWorkspace(slackWorkspaces[0].team_id);
  }, [kind, slackWorkspaces, workspace]);

  const recipientsFor = (): unknown[] => {
    switch (kind) {
      case 'email':
        return recipients.map((r) => (r.user_id ? { user_id: r.user_id } : { email: r.email }));
      case 'slack':
        return [{ slack_workspace_id: workspace.trim(), slack_channel_id: channel.trim() }];
      case 'msteams':
        return [{ msteams_channel_id: channel.trim() }];
      case 'child_ticket':
        return [{ support_group_id: groupId ? Number(groupId) : null, ...(agentId ? { support_agent_id: Number(agentId) } : {}) }];
    }
  };

  const create = useMutation({
    mutationFn: (attachmentIds: string[]) =>
      api<{ side_conversation: SideConversation }>(`/api/v2/tickets/${ticket.id}/side_conversations`, {
        method: 'POST',
        body: {
          message: {
            subject,
            body: message,
            html_body: textToHtml(message),
            to: recipientsFor(),
            ...(attachmentIds.length ? { attachment_ids: attachmentIds } : {}),
          },
        },
      }),
    onSuccess: (res) => {
      void client.invalidateQueries({ queryKey: ['ticket', ticket.id] });
      onCreated(res.side_conversation.id);
    },
  });
  const errors = create.error instanceof ApiError ? groupErrors(create.error.fields, kind) : {};
  const general = errors.general ?? (create.error && !(create.error instanceof ApiError && Object.keys(create.error.fields).length) ? create.error.message : null);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ready = readyAttachments(uploads);
    setBlocker(ready.blocker);
    if (!ready.blocker) create.mutate(ready.ids);
  };

  return (
    <form
      onSubmit={submit}
      aria-label="New side conversation"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose();
        }
      }}
      style={{ display: 'flex', flexDirection: 'column', gap: 12 }}
    >
      <LG tag="h3">New side conversation</LG>
      <Field>
        <Field.Label>Type</Field.Label>
        <Select
          ref={typeRef}
          value={kind}
          onChange={(e) => {
            setKind(e.target.value as Kind);
            // A Slack channel id means nothing to Teams, and the other way round.
            setChannel('');
          }}
        >
          {(Object.keys(KIND_LABEL) as Kind[]).map((k) => (
            <option key={k} value={k}>
              {KIND_LABEL[k]}
            </option>
          ))}
        </Select>
      </Field>
      {kind === 'email' ? <RecipientsInput value={recipients} onChange={setRecipients} error={errors.to} /> : null}
      {kind === 'slack' ? (
        <>
          {destinations.isError ? <ErrorState error={destinations.error} /> : null}
          {destinations.isSuccess && slackWorkspaces.length === 0 ? <NotConnected what="No Slack workspace is connected" /> : null}
          <Field>
            <Field.Label>Workspace</Field.Label>
            <Select
              value={workspace}
              onChange={(e) => {
                setWorkspace(e.target.value);
                setChannel('');
              }}
              validation={errors.workspace ? 'error' : undefined} disabled={slackWorkspaces.length === 0}>
              {destinations.isPending ? <option value="">Loading workspaces…</option> : null}
              {slackWorkspaces.map((w) => (
                <option key={w.team_id} value={w.team_id}>
                  {w.name ? `${w.name} (${w.team_id})` : w.team_id}
                </option>
              ))}
            </Select>
            {errors.workspace ? <Field.Message validation="error">{errors.workspace}</Field.Message> : null}
          </Field>
          {slackWorkspaces.length ? (
            <SlackChannelField
              teamId={workspace}
              used={slackWorkspaces.find((w) => w.team_id === workspace)?.channel_ids ?? []}
              value={channel}
              onChange={setChannel}
              error={errors.channel}
            />
          ) : null}
        </>
      ) : null}
      {kind === 'msteams' ? (
        <>
          {destinations.isError ? <ErrorState error={destinations.error} /> : null}
          {destinations.isSuccess && !destinations.data.msteams.connected ? <NotConnected what="No Microsoft Teams bot is connected" /> : null}
          <ChannelField
            id="teams-channels"
            hint="A channel used before, or a channel id such as 19:…@thread.tacv2 (the bot must be installed in its team)."
            known={destinations.data?.msteams.channel_ids ?? []}
            value={channel}
            onChange={setChannel}
            error={errors.channel}
          />
        </>
      ) : null}
      {kind === 'child_ticket' ? (
        <>
          <Field>
            <Field.Label>Group</Field.Label>
            <Select value={groupId} onChange={(e) => setGroupId(e.target.value)} validation={errors.group ? 'error' : undefined}>
              <option value="">Choose a group…</option>
              {(groups.data?.groups ?? []).map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </Select>
            {errors.group ? <Field.Message validation="error">{errors.group}</Field.Message> : null}
          </Field>
          <Field>
            <Field.Label>Agent</Field.Label>
            <Field.Hint>Optional: who in the group gets the child ticket.</Field.Hint>
            <Select value={agentId} onChange={(e) => setAgentId(e.target.value)} validation={errors.agent ? 'error' : undefined}>
              <option value="">Anyone in the group</option>
              {(agents.data?.people ?? []).map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </Select>
            {errors.agent ? <Field.Message validation="error">{errors.agent}</Field.Message> : null}
          </Field>
        </>
      ) : null}
      <Field>
        <Field.Label>Subject</Field.Label>
        <Input value={subject} onChange={(e) => setSubject(e.target.value)} validation={errors.subject ? 'error' : undefined} />
        {errors.subject ? <Field.Message validation="error">{errors.subject}</Field.Message> : null}
      </Field>
      <Field>
        <Field.Label>Message</Field.Label>
        <Field.Hint>**bold**, _italic_, links, and lists (lines starting with - or 1.)</Field.Hint>
        <Textarea minRows={5} value={message} onChange={(e) => setMessage(e.target.value)} validation={errors.message ? 'error' : undefined} />
        {errors.message ? <Field.Message validation="error">{errors.message}</Field.Message> : null}
      </Field>
      <AttachFiles uploads={uploads} onChange={setUploads} />
      {errors.attachments || blocker ? (
        <div role="alert" style={{ color: '#cd3642' }}>
          {errors.attachments ?? blocker}
        </div>
      ) : null}
      {general ? (
        <Alert type="error" role="alert">
          {general}
        </Alert>
      ) : null}
      <div style={{ display: 'flex', gap: 8 }}>
        <Button type="submit" isPrimary disabled={create.isPending}>
          Send
        </Button>
        <Button isBasic onClick={onClose}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
