import { Button } from '@zendeskgarden/react-buttons';
import { Modal } from '@zendeskgarden/react-modals';
import { useToast, Notification } from '@zendeskgarden/react-notifications';
import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Outlet, useMatch, useNavigate } from 'react-router';
import styled from 'styled-components';
import { COLORS } from '../colors';
import { useLive } from '../live';
import { useMe, useSession } from '../session';

const Bar = styled.header`
  display: flex;
  align-items: center;
  gap: 16px;
  padding: 8px 16px;
  background: #fff;
  border-bottom: 1px solid ${COLORS.border};
  color: ${COLORS.header};
  flex-wrap: wrap;
  a {
    color: ${COLORS.header};
    text-decoration: none;
    font-weight: 600;
  }
  a[aria-current='page'] {
    text-decoration: underline;
  }
`;
const Brand = styled(Link)`
  font-size: 18px;
`;
const Nav = styled.nav`
  display: flex;
  flex-wrap: wrap;
  gap: 4px 16px;
`;
/** The admin pages, in the main navigation of admins only. */
const ADMIN_PAGES: Array<[string, string]> = [
  ['/admin/users', 'Users'],
  ['/admin/groups', 'Groups'],
  ['/admin/api_tokens', 'API tokens'],
  ['/admin/integrations', 'Integrations'],
];
const Spacer = styled.span`
  flex: 1;
`;
const Main = styled.main`
  padding: 16px;
  max-width: 1400px;
  margin: 0 auto;
  @media (max-width: 600px) {
    padding: 8px;
  }
`;

const SHORTCUTS: Array<[string, string]> = [
  ['j / k', 'Move down / up in the Tickets list'],
  ['Enter', 'Open the selected ticket'],
  ['c', 'New side conversation (on a ticket)'],
  ['r', 'Reply in the open side conversation'],
  ['Esc', 'Close the open composer'],
  ['?', 'Show this help'],
];

/** True when a key press is typing into a field, so single-key shortcuts must not fire. */
export function isTyping(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (!target) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/**
 * A one-key shortcut (`c`, `r`): ignored while the agent types, with a modifier held, or while a
 * dialog is open, so it never steals a keystroke meant for something else.
 */
export function useShortcut(key: string, action: () => void): void {
  const latest = useRef(action);
  latest.current = action;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== key || isTyping(e) || e.metaKey || e.ctrlKey || document.querySelector('[role="dialog"]')) return;
      e.preventDefault();
      latest.current();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [key]);
}

function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  return (
    <Modal onClose={onClose} aria-label="Keyboard shortcuts">
      <Modal.Header tag="h2">Keyboard shortcuts</Modal.Header>
      <Modal.Body>
        <dl>
          {SHORTCUTS.map(([key, what]) => (
            <div key={key} style={{ display: 'flex', gap: 16, marginBottom: 8 }}>
              <dt style={{ minWidth: 64 }}>
                <kbd>{key}</kbd>
              </dt>
              <dd style={{ margin: 0 }}>{what}</dd>
            </div>
          ))}
        </dl>
      </Modal.Body>
      <Modal.Close aria-label="Close" />
    </Modal>
  );
}

/** A toast when a side conversation changes on a ticket other than the one on screen. */
function OtherTicketToasts() {
  const { subscribe } = useLive();
  const { addToast } = useToast();
  const navigate = useNavigate();
  const match = useMatch('/tickets/:ticketId');
  const current = match ? Number(match.params.ticketId) : null;
  useEffect(
    () =>
      subscribe((message) => {
        if (message.ticket_id === current || message.type === 'side_conversation.delivery_changed') return;
        const subject = message.side_conversation?.subject ?? 'A side conversation';
        addToast(
          ({ close }) => (
            <Notification type="info">
              <Notification.Title>Ticket #{message.ticket_id}</Notification.Title>
              {subject} has news.{' '}
              <Button
                isLink
                onClick={() => {
                  close();
                  navigate(`/tickets/${message.ticket_id}`);
                }}
              >
                Open ticket #{message.ticket_id}
              </Button>
              <Notification.Close aria-label="Dismiss" onClick={close} />
            </Notification>
          ),
          { placement: 'top-end' },
        );
      }),
    [subscribe, addToast, navigate, current],
  );
  return null;
}

export function Layout() {
  const me = useMe();
  const { signOut } = useSession();
  const navigate = useNavigate();
  const [help, setHelp] = useState(false);
  const [signOutError, setSignOutError] = useState<string | null>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === '?' && !isTyping(e)) {
        e.preventDefault();
        setHelp(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <>
      <Bar>
        <Brand to="/tickets">Sideline</Brand>
        <Nav aria-label="Main">
          <NavLink to="/tickets" end>
            Tickets
          </NavLink>
          {me.role === 'admin'
            ? ADMIN_PAGES.map(([to, label]) => (
                <NavLink key={to} to={to}>
                  {label}
                </NavLink>
              ))
            : null}
        </Nav>
        <Spacer />
        <span>
          {me.name} ({me.role})
        </span>
        <Button size="small" isNeutral onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">
          ?
        </Button>
        <Button
          size="small"
          isNeutral
          onClick={() => {
            signOut()
              .then(() => navigate('/login'))
              .catch((err: unknown) => setSignOutError(err instanceof Error ? err.message : 'Sign out failed.'));
          }}
        >
          Sign out
        </Button>
        {signOutError ? <span role="alert">{signOutError}</span> : null}
      </Bar>
      <Main>
        <Outlet />
      </Main>
      <OtherTicketToasts />
      {help ? <ShortcutsHelp onClose={() => setHelp(false)} /> : null}
    </>
  );
}
