import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Select, Textarea } from '@zendeskgarden/react-forms';
import { Alert } from '@zendeskgarden/react-notifications';
import { MD, SM, XL } from '@zendeskgarden/react-typography';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import styled from 'styled-components';
import { api, ApiError } from '../api/client';
import type { Comment, Group, Page, Ticket, TicketStatus, User } from '../api/types';
import { COLORS } from '../colors';
import { SafeHtml } from '../components/SafeHtml';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime, STATUS_LABEL, textToHtml } from '../format';
import { useRefetchInterval } from '../live';
import { SideConversationsPanel } from '../side-conversations/Panel';

const Columns = styled.div`
  display: grid;
  grid-template-columns: minmax(0, 3fr) minmax(320px, 2fr);
  gap: 16px;
  align-items: start;
  @media (max-width: 900px) {
    grid-template-columns: minmax(0, 1fr);
  }
`;
const Facts = styled.dl`
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 8px 16px;
  margin: 12px 0;
  dt {
    font-size: 12px;
    color: ${COLORS.muted};
  }
  dd {
    margin: 0;
  }
`;
const CommentCard = styled.li`
  border-bottom: 1px solid ${COLORS.border};
  padding: 12px 0;
`;
/** How often an open ticket is re-read while the live stream is up (the stream says nothing of tickets). */
const TICKET_RECHECK_MS = 5_000;
const STATUSES: TicketStatus[] = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];

function useUsers(ids: number[]): Map<number, User> {
  const results = useQueries({
    queries: [...new Set(ids)].map((id) => ({
      queryKey: ['user', id],
      queryFn: () => api<{ user: User }>(`/api/v2/users/${id}`).then((r) => r.user),
      staleTime: 5 * 60_000,
    })),
  });
  const map = new Map<number, User>();
  for (const r of results) if (r.data) map.set(r.data.id, r.data);
  return map;
}

export function TicketPage() {
  const ticketId = Number(useParams().ticketId);
  const client = useQueryClient();
  const refetchInterval = useRefetchInterval(2_000);
  // The stream carries side conversation events only: the ticket itself (someone else's status
  // change or comment) is re-read every few seconds even while the stream is up.
  const ticketInterval = refetchInterval === false ? TICKET_RECHECK_MS : refetchInterval;
  const [comment, setComment] = useState('');
  const knownUpdate = useRef<string | null>(null);
  const [changedUnderYou, setChangedUnderYou] = useState(false);

  const ticket = useQuery({
    queryKey: ['ticket', ticketId, 'ticket'],
    queryFn: ({ signal }) => api<{ ticket: Ticket }>(`/api/v2/tickets/${ticketId}`, { signal }).then((r) => r.ticket),
    enabled: Number.isSafeInteger(ticketId) && ticketId > 0,
    refetchInterval: ticketInterval,
  });
  const comments = useQuery({
    queryKey: ['ticket', ticketId, 'comments'],
    queryFn: ({ signal }) => api<{ comments: Comment[] } & Page>(`/api/v2/tickets/${ticketId}/comments?per_page=100`, { signal }),
    enabled: ticket.isSuccess,
    refetchInterval,
  });
  const groups = useQuery({
    queryKey: ['groups'],
    queryFn: () => api<{ groups: Group[] } & Page>('/api/v2/groups?per_page=100'),
    staleTime: 60_000,
  });
  const t = ticket.data;
  const people = useUsers([t?.requester_id, t?.assignee_id, ...(comments.data?.comments ?? []).map((c) => c.author_id)].filter((x): x is number => typeof x === 'number'));

  // A banner when the ticket changed under the agent (someone else's write, seen by a re-read);
  // its comments are read again then too.
  useEffect(() => {
    if (!t) return;
    if (knownUpdate.current && knownUpdate.current !== t.updated_at) {
      setChangedUnderYou(true);
      void client.invalidateQueries({ queryKey: ['ticket', ticketId, 'comments'] });
    }
    knownUpdate.current = t.updated_at;
  }, [t, client, ticketId]);
  useEffect(() => {
    knownUpdate.current = null;
    setChangedUnderYou(false);
  }, [ticketId]);

  const update = useMutation({
    mutationFn: (body: Record<string, unknown>) => api<{ ticket: Ticket }>(`/api/v2/tickets/${ticketId}`, { method: 'PUT', body: { ticket: body } }),
    onSuccess: (res) => {
      // Our own write: not a change "under" us.
      knownUpdate.current = res.ticket.updated_at;
      client.setQueryData(['ticket', ticketId, 'ticket'], res.ticket);
      void client.invalidateQueries({ queryKey: ['ticket', ticketId, 'comments'] });
      void client.invalidateQueries({ queryKey: ['ticket_list'] });
    },
  });
  const addComment = (e: FormEvent) => {
    e.preventDefault();
    update.mutate({ comment: { body: comment, html_body: textToHtml(comment) } }, { onSuccess: () => setComment('') });
  };

  if (!Number.isSafeInteger(ticketId) || ticketId <= 0) return <EmptyState title="No such ticket">Ticket ids are whole numbers.</EmptyState>;
  if (ticket.isPending) return <CenteredSpinner label="Loading the ticket" />;
  if (ticket.isError || !t) {
    if (ticket.error instanceof ApiError && ticket.error.status === 404)
      return (
        <EmptyState title={`Ticket #${ticketId} was not found`}>
          <Link to="/tickets">Back to Tickets</Link>
        </EmptyState>
      );
    return <ErrorState error={ticket.error} />;
  }
  const name = (id: number | null) => (id === null ? 'Unassigned' : (people.get(id)?.name ?? `User #${id}`));
  const group = t.group_id === null ? 'No group' : (groups.data?.groups.find((g) => g.id === t.group_id)?.name ?? `Group #${t.group_id}`);
  const updateError = update.error instanceof ApiError ? Object.values(update.error.fields).flat().join(' ') || update.error.message : update.error?.message;

  return (
    <>
      {changedUnderYou ? (
        <Alert type="warning" role="status" style={{ marginBottom: 12 }}>
          <Alert.Title>This ticket was updated</Alert.Title>
          Someone else changed it while you had it open; what you see is the latest.{' '}
          <Button isLink onClick={() => setChangedUnderYou(false)}>
            Dismiss
          </Button>
        </Alert>
      ) : null}
      <Columns>
        <section aria-label="Ticket">
          <SM tag="div">
            <Link to="/tickets">Tickets</Link> / #{t.id}
          </SM>
          <XL tag="h1">{t.subject || '(no subject)'}</XL>
          <Facts>
            <div>
              <dt>Status</dt>
              <dd>
                <Field>
                  <Field.Label hidden>Status</Field.Label>
                  <Select value={t.status} onChange={(e) => update.mutate({ status: e.target.value })} isCompact disabled={update.isPending}>
                    {STATUSES.map((s) => (
                      <option key={s} value={s}>
                        {STATUS_LABEL[s]}
                      </option>
                    ))}
                  </Select>
                </Field>
              </dd>
            </div>
            <div>
              <dt>Requester</dt>
              <dd>{name(t.requester_id)}</dd>
            </div>
            <div>
              <dt>Assignee</dt>
              <dd>{name(t.assignee_id)}</dd>
            </div>
            <div>
              <dt>Group</dt>
              <dd>{group}</dd>
            </div>
          </Facts>
          {updateError ? (
            <Alert type="error" role="alert">
              {updateError}
            </Alert>
          ) : null}
          <h2 style={{ fontSize: 16, margin: '16px 0 0' }}>Comments</h2>
          {comments.isPending ? (
            <CenteredSpinner label="Loading comments" />
          ) : comments.isError ? (
            <ErrorState error={comments.error} />
          ) : (
            <ol style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label="Comments">
              {comments.data.comments.map((c) => (
                <CommentCard key={c.id}>
                  <MD isBold tag="div">
                    {name(c.author_id)} <SM tag="span" style={{ color: COLORS.muted, fontWeight: 400 }}>· {formatTime(c.created_at)}{c.public ? '' : ' · internal note'}</SM>
                  </MD>
                  <SafeHtml html={c.html_body || c.body} />
                </CommentCard>
              ))}
            </ol>
          )}
          <form onSubmit={addComment} style={{ display: 'flex', flexDirection: 'column', gap: 8, marginTop: 12 }}>
            <Field>
              <Field.Label>Comment</Field.Label>
              <Textarea minRows={3} value={comment} onChange={(e) => setComment(e.target.value)} />
            </Field>
            <div>
              <Button type="submit" disabled={!comment.trim() || update.isPending}>
                Add comment
              </Button>
            </div>
          </form>
        </section>
        <SideConversationsPanel ticket={t} comments={comments.data?.comments ?? []} />
      </Columns>
    </>
  );
}
