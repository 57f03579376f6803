import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { Field, Input, Textarea } from '@zendeskgarden/react-forms';
import { Modal } from '@zendeskgarden/react-modals';
import { Table } from '@zendeskgarden/react-tables';
import { Tag } from '@zendeskgarden/react-tags';
import { XL } from '@zendeskgarden/react-typography';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import styled from 'styled-components';
import { COLORS } from '../colors';
import { api, ApiError } from '../api/client';
import type { Page, Ticket, TicketListRow } from '../api/types';
import { isTyping } from '../components/Layout';
import { CenteredSpinner, EmptyState, ErrorState } from '../components/States';
import { formatTime, STATUS_LABEL } from '../format';
import { useRefetchInterval } from '../live';

const FILTERS = [
  ['open', 'Open'],
  ['pending', 'Pending'],
  ['solved', 'Solved'],
  ['assigned_to_me', 'Assigned to me'],
  ['my_groups', 'My groups'],
] as const;
type Filter = (typeof FILTERS)[number][0];
const PER_PAGE = 25;

const Toolbar = styled.div`
  display: flex;
  gap: 8px;
  align-items: center;
  flex-wrap: wrap;
  margin: 8px 0 16px;
`;
/** On a narrow screen the table scrolls inside its box (its columns would overlap if squeezed). */
const Scroll = styled.div`
  overflow-x: auto;
  table {
    min-width: 760px;
  }
  td {
    overflow-wrap: anywhere;
  }
`;
const UnreadBadge = styled.span`
  display: inline-block;
  min-width: 20px;
  padding: 0 6px;
  margin-left: 6px;
  border-radius: 10px;
  background: ${COLORS.accent};
  color: #fff;
  font-size: 12px;
  text-align: center;
`;
const SelectableRow = styled(Table.Row)`
  cursor: pointer;
`;

function NewTicketModal({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const [subject, setSubject] = useState('');
  const [description, setDescription] = useState('');
  const create = useMutation({
    mutationFn: () => api<{ ticket: Ticket }>('/api/v2/tickets', { method: 'POST', body: { ticket: { subject, comment: { body: description } } } }),
    onSuccess: (res) => {
      void client.invalidateQueries({ queryKey: ['ticket_list'] });
      onClose();
      navigate(`/tickets/${res.ticket.id}`);
    },
  });
  const fields = create.error instanceof ApiError ? create.error.fields : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <Modal onClose={onClose} aria-label="New ticket">
      <form onSubmit={submit}>
        <Modal.Header tag="h2">New ticket</Modal.Header>
        <Modal.Body style={{ display: 'flex', flexDirection: 'column', gap: 16 }}>
          <Field>
            <Field.Label>Subject</Field.Label>
            <Input value={subject} onChange={(e) => setSubject(e.target.value)} validation={fields['subject'] ? 'error' : undefined} />
            {fields['subject'] ? <Field.Message validation="error">{fields['subject'].join(' ')}</Field.Message> : null}
          </Field>
          <Field>
            <Field.Label>Description</Field.Label>
            <Textarea minRows={4} value={description} onChange={(e) => setDescription(e.target.value)} validation={fields['comment.body'] || fields['comment'] ? 'error' : undefined} />
            {fields['comment.body'] || fields['comment'] ? (
              <Field.Message validation="error">{[...(fields['comment.body'] ?? []), ...(fields['comment'] ?? [])].join(' ')}</Field.Message>
            ) : null}
          </Field>
          {create.error && Object.keys(fields).length === 0 ? <div role="alert">{create.error.message}</div> : null}
        </Modal.Body>
        <Modal.Footer>
          <Modal.FooterItem>
            <Button isBasic onClick={onClose}>
              Cancel
            </Button>
          </Modal.FooterItem>
          <Modal.FooterItem>
            <Button isPrimary type="submit" disabled={create.isPending || !description.trim()}>
              Create ticket
            </Button>
          </Modal.FooterItem>
        </Modal.Footer>
      </form>
      <Modal.Close aria-label="Close" />
    </Modal>
  );
}

export function TicketsPage() {
  const [params, setParams] = useSearchParams();
  const filter = (FILTERS.some(([key]) => key === params.get('filter')) ? params.get('filter') : 'open') as Filter;
  const page = Math.max(1, Number(params.get('page')) || 1);
  const navigate = useNavigate();
  const [selected, setSelected] = useState(0);
  const [creating, setCreating] = useState(false);
  const refetchInterval = useRefetchInterval(10_000);

  const list = useQuery({
    queryKey: ['ticket_list', filter, page],
    queryFn: ({ signal }) =>
      api<{ tickets: TicketListRow[] } & Page>(`/api/v2/sideline/ticket_list?filter=${filter}&page=${page}&per_page=${PER_PAGE}`, { signal }),
    refetchInterval,
    placeholderData: (previous) => previous,
  });
  const tickets = list.data?.tickets ?? [];

  useEffect(() => setSelected(0), [filter, page]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.metaKey || e.ctrlKey || e.altKey || document.querySelector('[role="dialog"]')) return;
      if (e.key === 'j') setSelected((i) => Math.min(i + 1, Math.max(0, tickets.length - 1)));
      else if (e.key === 'k') setSelected((i) => Math.max(0, i - 1));
      else if (e.key === 'Enter' && tickets[selected] && !(e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement)) {
        navigate(`/tickets/${tickets[selected].id}`);
      } else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [tickets, selected, navigate]);

  const go = (next: { filter?: Filter; page?: number }) => {
    const search = new URLSearchParams();
    search.set('filter', next.filter ?? filter);
    if ((next.page ?? 1) > 1) search.set('page', String(next.page));
    setParams(search);
  };

  return (
    <>
      <Toolbar>
        <XL tag="h1" style={{ marginRight: 16 }}>
          Tickets
        </XL>
        <div role="group" aria-label="Filter tickets" style={{ display: 'flex', gap: 4, flexWrap: 'wrap' }}>
          {FILTERS.map(([key, label]) => (
            <Button key={key} size="small" isPrimary={key === filter} aria-pressed={key === filter} onClick={() => go({ filter: key })}>
              {label}
            </Button>
          ))}
        </div>
        <span style={{ flex: 1 }} />
        <Button isPrimary onClick={() => setCreating(true)}>
          New ticket
        </Button>
      </Toolbar>
      {list.isPending ? (
        <CenteredSpinner label="Loading tickets" />
      ) : list.isError ? (
        <ErrorState error={list.error} />
      ) : tickets.length === 0 ? (
        <EmptyState title="No tickets here">Nothing matches this filter right now.</EmptyState>
      ) : (
        <Scroll>
          <Table aria-label="Tickets">
            <Table.Head>
              <Table.HeaderRow>
                <Table.HeaderCell>Subject</Table.HeaderCell>
                <Table.HeaderCell>Requester</Table.HeaderCell>
                <Table.HeaderCell>Status</Table.HeaderCell>
                <Table.HeaderCell>Assignee</Table.HeaderCell>
                <Table.HeaderCell>Updated</Table.HeaderCell>
                <Table.HeaderCell>Side conversations</Table.HeaderCell>
              </Table.HeaderRow>
            </Table.Head>
            <Table.Body>
              {tickets.map((ticket, index) => (
                <SelectableRow
                  key={ticket.id}
                  isFocused={index === selected}
                  aria-selected={index === selected}
                  onClick={() => navigate(`/tickets/${ticket.id}`)}
                >
                  <Table.Cell>
                    <Link to={`/tickets/${ticket.id}`} onClick={(e) => e.stopPropagation()}>
                      #{ticket.id} {ticket.subject || '(no subject)'}
                    </Link>
                  </Table.Cell>
                  <Table.Cell>{ticket.requester?.name ?? '—'}</Table.Cell>
                  <Table.Cell>
                    <Tag size="small">{STATUS_LABEL[ticket.status] ?? ticket.status}</Tag>
                  </Table.Cell>
                  <Table.Cell>{ticket.assignee?.name ?? 'Unassigned'}</Table.Cell>
                  <Table.Cell>{formatTime(ticket.updated_at)}</Table.Cell>
                  <Table.Cell>
                    {ticket.side_conversation_count}
                    {ticket.unread_count > 0 ? <UnreadBadge aria-label={`${ticket.unread_count} unread`}>{ticket.unread_count}</UnreadBadge> : null}
                  </Table.Cell>
                </SelectableRow>
              ))}
            </Table.Body>
          </Table>
        </Scroll>
      )}
      <Toolbar>
        <Button size="small" disabled={!list.data?.previous_page} onClick={() => go({ page: page - 1 })}>
          Previous page
        </Button>
        <span aria-live="polite">
          Page {page}
          {list.data ? ` of ${Math.max(1, Math.ceil(list.data.count / PER_PAGE))}` : ''}
        </span>
        <Button size="small" disabled={!list.data?.next_page} onClick={() => go({ page: page + 1 })}>
          Next page
        </Button>
      </Toolbar>
      {creating ? <NewTicketModal onClose={() => setCreating(false)} /> : null}
    </>
  );
}
