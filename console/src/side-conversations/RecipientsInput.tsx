import { useQuery } from '@tanstack/react-query';
import { Field, Input } from '@zendeskgarden/react-forms';
import { Tag } from '@zendeskgarden/react-tags';
import { useEffect, useId, useState, type KeyboardEvent } from 'react';
import styled from 'styled-components';
import { api } from '../api/client';
import type { Page, User } from '../api/types';
import { COLORS } from '../colors';

export interface Recipient {
  email: string;
  name: string | null;
  user_id: number | null;
}

const SIMPLE_EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

const Suggestions = styled.ul`
  list-style: none;
  margin: 4px 0 0;
  padding: 4px 0;
  border: 1px solid ${COLORS.border};
  border-radius: 4px;
  background: #fff;
  max-height: 200px;
  overflow-y: auto;
  li {
    padding: 6px 12px;
    cursor: pointer;
  }
  li[aria-selected='true'] {
    background: ${COLORS.subtle};
    outline: 2px solid ${COLORS.accent};
    outline-offset: -2px;
  }
`;

function useDebounced(value: string, ms: number): string {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/**
 * To: users from Zendesk's autocomplete plus free addresses, several of them. Enter, comma or Tab
 * adds what is typed (a suggestion when one is highlighted); Backspace on an empty field removes the last.
 */
export function RecipientsInput({ value, onChange, error }: { value: Recipient[]; onChange: (next: Recipient[]) => void; error?: string | undefined }) {
  const [text, setText] = useState('');
  const [active, setActive] = useState(-1);
  const [localError, setLocalError] = useState<string | null>(null);
  const listId = useId();
  const query = useDebounced(text.trim(), 200);
  const suggestions = useQuery({
    queryKey: ['autocomplete', query],
    queryFn: ({ signal }) => api<{ users: User[] } & Page>(`/api/v2/users/autocomplete?name=${encodeURIComponent(query)}`, { signal }),
    enabled: query.length >= 2,
    staleTime: 30_000,
  });
  const options = (suggestions.data?.users ?? []).filter((u) => u.email && !value.some((r) => r.email.toLowerCase() === u.email.toLowerCase())).slice(0, 8);
  const open = text.trim().length >= 2 && options.length > 0;

  const addRecipient = (recipient: Recipient) => {
    if (!value.some((r) => r.email.toLowerCase() === recipient.email.toLowerCase())) onChange([...value, recipient]);
    setText('');
    setActive(-1);
    setLocalError(null);
  };
  const addTyped = (): boolean => {
    const typed = text.trim().replace(/,$/, '');
    if (!typed) return false;
    if (!SIMPLE_EMAIL.test(typed)) {
      setLocalError(`"${typed}" is not an email address.`);
      return true;
    }
    addRecipient({ email: typed, name: null, user_id: null });
    return true;
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown' && open) {
      e.preventDefault();
      setActive((i) => Math.min(i + 1, options.length - 1));
    } else if (e.key === 'ArrowUp' && open) {
      e.preventDefault();
      setActive((i) => Math.max(i - 1, 0));
    } else if (e.key === 'Enter' || e.key === ',' || (e.key === 'Tab' && text.trim())) {
      const chosen = open && active >= 0 ? options[active] : undefined;
      if (chosen) {
        e.preventDefault();
        addRecipient({ email: chosen.email, name: chosen.name, user_id: chosen.id });
      } else if (addTyped()) e.preventDefault();
    } else if (e.key === 'Backspace' && !text && value.length) {
      onChange(value.slice(0, -1));
    } else if (e.key === 'Escape' && open) {
      e.stopPropagation();
      setText('');
    }
  };

  const shownError = localError ?? error;
  return (
    <Field>
      <Field.Label>To</Field.Label>
      <Field.Hint>Type a name or an email address, then Enter. Several recipients are fine.</Field.Hint>
      {value.length ? (
        <div style={{ display: 'flex', gap: 4, flexWrap: 'wrap', margin: '4px 0' }} aria-label="Recipients" role="list">
          {value.map((r) => (
            <Tag key={r.email} role="listitem" size="large">
              <span>{r.name ? `${r.name} <${r.email}>` : r.email}</span>
              <Tag.Close aria-label={`Remove ${r.email}`} onClick={() => onChange(value.filter((x) => x !== r))} />
            </Tag>
          ))}
        </div>
      ) : null}
      <Input
        value={text}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && active >= 0 ? `${listId}-${active}` : undefined}
        autoComplete="off"
        onChange={(e) => {
          setText(e.target.value);
          setActive(-1);
          setLocalError(null);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => {
          // A typed address counts even if the agent clicks Send without pressing Enter.
          if (text.trim() && SIMPLE_EMAIL.test(text.trim())) addTyped();
        }}
        validation={shownError ? 'error' : undefined}
      />
      <Suggestions id={listId} role="listbox" aria-label="Suggested recipients" hidden={!open}>
        {options.map((u, i) => (
          <li
            key={u.id}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active}
            onMouseDown={(e) => {
              e.preventDefault();
              addRecipient({ email: u.email, name: u.name, user_id: u.id });
            }}
          >
            {u.name} &lt;{u.email}&gt;
          </li>
        ))}
      </Suggestions>
      {shownError ? <Field.Message validation="error">{shownError}</Field.Message> : null}
    </Field>
  );
}
