import { useQuery } from '@tanstack/react-query';
import { Button } from '@zendeskgarden/react-buttons';
import { LG, SM } from '@zendeskgarden/react-typography';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import styled from 'styled-components';
import { api } from '../api/client';
import type { Comment, Page, ReadMarker, SideConversation, Ticket } from '../api/types';
import { COLORS } from '../colors';
import { useShortcut } from '../components/Layout';
import { EmptyState, ErrorState, CenteredSpinner } from '../components/States';
import { formatTime } from '../format';
import { useRefetchInterval } from '../live';
import { KIND_LABEL, kindOf, participantLabel } from './kind';
import { NewSideConversation } from './NewSideConversation';
import { Thread } from './Thread';

const Aside = styled.aside`
  border: 1px solid ${COLORS.border};
  border-radius: 4px;
  padding: 12px;
  display: flex;
  flex-direction: column;
  gap: 12px;
  min-width: 0;
`;
const Item = styled.li`
  border-bottom: 1px solid ${COLORS.border};
  &:last-child {
    border-bottom: none;
  }
  button {
    all: unset;
    box-sizing: border-box;
    display: block;
    width: 100%;
    padding: 8px 4px;
    cursor: pointer;
  }
  button:focus-visible {
    outline: 2px solid ${COLORS.accent};
  }
`;
const Dot = styled.span`
  display: inline-block;
  width: 8px;
  height: 8px;
  border-radius: 50%;
  background: ${COLORS.accent};
  margin-right: 6px;
`;
const Line = styled.div`
  display: flex;
  gap: 8px;
  align-items: baseline;
  justify-content: space-between;
  font-size: 13px;
  color: ${COLORS.muted};
`;

export function SideConversationsPanel({ ticket, comments }: { ticket: Ticket; comments: Comment[] }) {
  const [params, setParams] = useSearchParams();
  const openId = params.get('side_conversation');
  const [composing, setComposing] = useState(false);
  const refetchInterval = useRefetchInterval(2_000);

  const list = useQuery({
    queryKey: ['ticket', ticket.id, 'side_conversations'],
    queryFn: ({ signal }) => api<{ side_conversations: SideConversation[] } & Page>(`/api/v2/tickets/${ticket.id}/side_conversations?per_page=100`, { signal }),
    refetchInterval,
  });
  const markers = useQuery({
    queryKey: ['ticket', ticket.id, 'read_markers'],
    queryFn: ({ signal }) => api<{ read_markers: ReadMarker[] }>(`/api/v2/sideline/tickets/${ticket.id}/read_markers`, { signal }),
    refetchInterval,
    retry: false,
  });
  const unread = new Map((markers.data?.read_markers ?? []).map((m) => [m.side_conversation_id, m.unread_count]));
  const conversations = [...(list.data?.side_conversations ?? [])].sort((a, b) => b.message_added_at.localeCompare(a.message_added_at));
  const open = conversations.find((c) => c.id === openId) ?? null;

  const show = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set('side_conversation', id);
    else next.delete('side_conversation');
    setParams(next, { replace: true });
  };

  useShortcut('c', () => setComposing(true));
  // Esc closes the composer wherever the focus is (inside it, the form's own handler does).
  useShortcut('Escape', () => setComposing(false));

  return (
    <Aside aria-label="Side conversations">
      <div style={{ display: 'flex', alignItems: 'center', gap: 8 }}>
        <LG tag="h2" style={{ flex: 1 }}>
          Side conversations
        </LG>
        {!composing ? (
          <Button size="small" isPrimary onClick={() => setComposing(true)}>
            New side conversation
          </Button>
        ) : null}
      </div>
      {composing ? (
        <NewSideConversation
          ticket={ticket}
          onClose={() => setComposing(false)}
          onCreated={(id) => {
            setComposing(false);
            show(id);
          }}
        />
      ) : open ? (
        <Thread conversation={open} comments={comments} onBack={() => show(null)} />
      ) : list.isPending ? (
        <CenteredSpinner label="Loading side conversations" />
      ) : list.isError ? (
        <ErrorState error={list.error} />
      ) : conversations.length === 0 ? (
        <EmptyState title="No side conversations yet">Start one to ask someone outside the ticket by email, Slack, Teams or a child ticket.</EmptyState>
      ) : (
        <ul style={{ listStyle: 'none', margin: 0, padding: 0 }} aria-label="Side conversation list">
          {conversations.map((c) => {
            const count = unread.get(c.id) ?? 0;
            return (
              <Item key={c.id}>
                <button type="button" onClick={() => show(c.id)} aria-label={`${c.subject}${count ? `, ${count} unread` : ''}`}>
                  <div style={{ fontWeight: 600, marginBottom: 2 }}>
                    {count ? <Dot aria-hidden="true" data-unread={count} /> : null}
                    {c.subject}
                  </div>
                  <Line>
                    <span>
                      {KIND_LABEL[kindOf(c)]} · {c.state === 'open' ? 'Open' : 'Closed'}
                    </span>
                    <span>{formatTime(c.message_added_at)}</span>
                  </Line>
                  <SM tag="div" style={{ color: COLORS.muted, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>
                    {c.participants.map(participantLabel).join(', ')}
                  </SM>
                </button>
              </Item>
            );
          })}
        </ul>
      )}
    </Aside>
  );
}
