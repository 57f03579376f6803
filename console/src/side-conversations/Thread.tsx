import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Anchor, Button } from '@zendeskgarden/react-buttons';
import { Field, Select, Textarea } from '@zendeskgarden/react-forms';
import { Alert } from '@zendeskgarden/react-notifications';
import { Tag } from '@zendeskgarden/react-tags';
import { LG, SM } from '@zendeskgarden/react-typography';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import styled from 'styled-components';
import { api, ApiError, samePath } from '../api/client';
import type { Comment, Delivery, Page, SideConversation, SideConversationEvent } from '../api/types';
import { COLORS } from '../colors';
import { useShortcut } from '../components/Layout';
import { SafeHtml } from '../components/SafeHtml';
import { CenteredSpinner, ErrorState } from '../components/States';
import { formatBytes, formatTime, textToHtml } from '../format';
import { useRefetchInterval } from '../live';
import { AttachFiles, readyAttachments, type PendingUpload } from './Attachments';
import { KIND_LABEL, kindOf, participantLabel, VIA_LABEL } from './kind';

const Events = styled.ol`
  list-style: none;
  margin: 0;
  padding: 0;
  display: flex;
  flex-direction: column;
  gap: 12px;
`;
const EventCard = styled.li`
  border: 1px solid ${COLORS.border};
  border-radius: 4px;
  padding: 10px 12px;
`;
const StateChange = styled.li`
  color: ${COLORS.muted};
  font-size: 13px;
  text-align: center;
`;
const Meta = styled.div`
  display: flex;
  gap: 8px;
  flex-wrap: wrap;
  align-items: baseline;
  font-size: 13px;
  color: ${COLORS.muted};
  margin-bottom: 6px;
  strong {
    color: #2f3941;
  }
`;
const Thumb = styled.img`
  max-width: 160px;
  max-height: 120px;
  border: 1px solid ${COLORS.border};
  border-radius: 4px;
  display: block;
`;
const DELIVERY_COLOR: Record<Delivery['status'], string> = { queued: COLORS.warning, sent: COLORS.success, failed: COLORS.danger };

function DeliveryList({ deliveries }: { deliveries: Delivery[] }) {
  if (!deliveries.length) return null;
  return (
    <ul aria-label="Delivery" style={{ listStyle: 'none', padding: 0, margin: '8px 0 0', fontSize: 13 }}>
      {deliveries.map((d) => (
        <li key={d.recipient} style={{ color: DELIVERY_COLOR[d.status] }}>
          {d.recipient}: <strong data-delivery-status={d.status}>{d.status}</strong>
          {d.status === 'failed' && d.reason ? ` — ${d.reason}` : ''}
        </li>
      ))}
    </ul>
  );
}

function EventItem({ event }: { event: SideConversationEvent }) {
  const actor = event.actor.name ?? event.actor.email ?? 'Someone';
  if (!event.message) {
    const state = event.updates?.['state'];
    const subject = event.updates?.['subject'];
    const what = state === 'closed' ? 'closed the conversation' : state === 'open' ? 'reopened the conversation' : subject ? `changed the subject to “${String(subject)}”` : 'updated the conversation';
    return (
      <StateChange>
        {actor} {what} · {formatTime(event.created_at)}
      </StateChange>
    );
  }
  const m = event.message;
  return (
    <EventCard aria-label={`Message from ${actor}`}>
      <Meta>
        <strong>{actor}</strong>
        <span>{formatTime(event.created_at)}</span>
        <span>via {VIA_LABEL[event.via] ?? event.via}</span>
        {m.to.length ? <span>to {m.to.map(participantLabel).join(', ')}</span> : null}
      </Meta>
      {m.html_body ? <SafeHtml html={m.html_body} /> : <p style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{m.body}</p>}
      {m.attachments.length ? (
        <ul aria-label="Attachments" style={{ listStyle: 'none', padding: 0, margin: '8px 0 0', display: 'flex', gap: 8, flexWrap: 'wrap' }}>
          {m.attachments.map((a) => {
            const href = samePath(a.content_url);
            return (
              <li key={a.id}>
                {a.content_type.startsWith('image/') ? <Thumb src={href} alt={a.file_name} loading="lazy" /> : null}
                <Anchor href={href} download={a.file_name}>
                  {a.file_name}
                </Anchor>{' '}
                <SM tag="span">({formatBytes(a.size)})</SM>
              </li>
            );
          })}
        </ul>
      ) : null}
      <DeliveryList deliveries={m.deliveries ?? []} />
    </EventCard>
  );
}

function plainOf(comment: Comment): string {
  return comment.plain_body || comment.body;
}

export function Thread({ conversation, comments, onBack }: { conversation: SideConversation; comments: Comment[]; onBack: () => void }) {
  const client = useQueryClient();
  const ticketId = conversation.ticket_id;
  const kind = kindOf(conversation);
  const refetchInterval = useRefetchInterval(2_000);
  const [replying, setReplying] = useState(false);
  const [reply, setReply] = useState('');
  const [uploads, setUploads] = useState<PendingUpload[]>([]);
  const [blocker, setBlocker] = useState<string | null>(null);
  const [quote, setQuote] = useState('');
  const replyRef = useRef<HTMLTextAreaElement>(null);

  const events = useQuery({
    queryKey: ['ticket', ticketId, 'events', conversation.id],
    queryFn: ({ signal }) =>
      api<{ events: SideConversationEvent[] } & Page>(`/api/v2/tickets/${ticketId}/side_conversations/${conversation.id}/events?per_page=100`, { signal }),
    refetchInterval,
  });
  const list = events.data?.events ?? [];
  const lastEventId = list.at(-1)?.id;

  // Reading the thread marks it read, on the server, for this agent (so every device agrees).
  useEffect(() => {
    if (!lastEventId) return;
    api(`/api/v2/sideline/side_conversations/${conversation.id}/read`, { method: 'PUT', body: {} })
      .then(() =>
        Promise.all([
          client.invalidateQueries({ queryKey: ['ticket', ticketId, 'read_markers'] }),
          // The Tickets view's unread counts too, so going back shows it read at once.
          client.invalidateQueries({ queryKey: ['ticket_list'] }),
        ]),
      )
      .catch(() => undefined);
  }, [lastEventId, conversation.id, ticketId, client]);

  useShortcut('r', () => setReplying(true));
  useShortcut('Escape', () => setReplying(false));
  useEffect(() => {
    if (replying) replyRef.current?.focus();
  }, [replying]);

  const invalidate = () => client.invalidateQueries({ queryKey: ['ticket', ticketId] });
  const send = useMutation({
    mutationFn: (attachmentIds: string[]) =>
      api(`/api/v2/tickets/${ticketId}/side_conversations/${conversation.id}/reply`, {
        method: 'POST',
        body: { message: { body: reply, html_body: textToHtml(reply), ...(attachmentIds.length ? { attachment_ids: attachmentIds } : {}) } },
      }),
    onSuccess: () => {
      setReply('');
      setUploads([]);
      setReplying(false);
      void invalidate();
    },
  });
  const setState = useMutation({
    mutationFn: (state: 'open' | 'closed') =>
      api(`/api/v2/tickets/${ticketId}/side_conversations/${conversation.id}`, { method: 'PUT', body: { side_conversation: { state } } }),
    onSuccess: () => void invalidate(),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ready = readyAttachments(uploads);
    setBlocker(ready.blocker);
    if (!ready.blocker) send.mutate(ready.ids);
  };
  const replyErrors = send.error instanceof ApiError ? Object.values(send.error.fields).flat().join(' ') || send.error.message : send.error?.message;
  const childTicketId = conversation.external_ids['targetTicketId'];

  return (
    <section aria-label={`Side conversation: ${conversation.subject}`} style={{ display: 'flex', flexDirection: 'column', gap: 12 }}>
      <div style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <Button size="small" isBasic onClick={onBack}>
          ← All side conversations
        </Button>
      </div>
      <LG tag="h3">{conversation.subject}</LG>
      <div style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <Tag size="small">{KIND_LABEL[kind]}</Tag>
        <Tag size="small" hue={conversation.state === 'open' ? 'green' : 'grey'}>
          {conversation.state === 'open' ? 'Open' : 'Closed'}
        </Tag>
        <SM tag="span">{conversation.participants.map(participantLabel).join(', ')}</SM>
        {childTicketId ? <Link to={`/tickets/${childTicketId}`}>Child ticket #{childTicketId}</Link> : null}
        <span style={{ flex: 1 }} />
        {conversation.state === 'open' ? (
          <Button size="small" onClick={() => setState.mutate('closed')} disabled={setState.isPending}>
            Close
          </Button>
        ) : (
          <Button size="small" onClick={() => setState.mutate('open')} disabled={setState.isPending}>
            Reopen
          </Button>
        )}
      </div>
      {setState.error ? <ErrorState error={setState.error} /> : null}
      {events.isPending ? <CenteredSpinner label="Loading the thread" /> : events.isError ? <ErrorState error={events.error} /> : (
        <Events aria-label="Thread">
          {list.map((event) => (
            <EventItem key={event.id} event={event} />
          ))}
        </Events>
      )}
      {replying ? (
        <form
          onSubmit={submit}
          aria-label="Reply"
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              setReplying(false);
            }
          }}
          style={{ display: 'flex', flexDirection: 'column', gap: 8 }}
        >
          <Field>
            <Field.Label>Reply</Field.Label>
            <Textarea ref={replyRef} minRows={4} value={reply} onChange={(e) => setReply(e.target.value)} validation={replyErrors ? 'error' : undefined} />
            {replyErrors ? <Field.Message validation="error">{replyErrors}</Field.Message> : null}
          </Field>
          {comments.length ? (
            <Field>
              <Field.Label>Insert ticket comment</Field.Label>
              <Select
                value={quote}
                onChange={(e) => {
                  const chosen = comments.find((c) => String(c.id) === e.target.value);
                  if (chosen) setReply((current) => `${current ? `${current}\n\n` : ''}${plainOf(chosen).split('\n').map((l) => `> ${l}`).join('\n')}\n\n`);
                  setQuote('');
                  replyRef.current?.focus();
                }}
              >
                <option value="">Choose a comment to quote…</option>
                {comments.map((c) => (
                  <option key={c.id} value={c.id}>
                    {formatTime(c.created_at)}: {plainOf(c).slice(0, 60)}
                  </option>
                ))}
              </Select>
            </Field>
          ) : null}
          <AttachFiles uploads={uploads} onChange={setUploads} />
          {blocker ? <div role="alert">{blocker}</div> : null}
          <div style={{ display: 'flex', gap: 8 }}>
            <Button type="submit" isPrimary disabled={send.isPending || (!reply.trim() && uploads.length === 0)}>
              Send reply
            </Button>
            <Button isBasic onClick={() => setReplying(false)}>
              Cancel
            </Button>
          </div>
        </form>
      ) : (
        <div>
          <Button onClick={() => setReplying(true)}>Reply</Button>
        </div>
      )}
      {send.isSuccess && !replying ? (
        <Alert type="success" role="status">
          Reply sent.
        </Alert>
      ) : null}
    </section>
  );
}
