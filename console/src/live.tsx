/**
 * Live updates: the server's event stream (GET /api/v2/sideline/stream) when it answers, else polling.
 * Either way every change invalidates the queries it touches, so pages re-read what changed within
 * about 2 s. Listeners (the toast, the ticket banner) hear each stream message.
 */
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { StreamMessage } from './api/types';

type Mode = 'connecting' | 'stream' | 'polling';
type Listener = (message: StreamMessage) => void;

interface LiveState {
  mode: Mode;
  subscribe(listener: Listener): () => void;
}

const LiveContext = createContext<LiveState>({ mode: 'polling', subscribe: () => () => undefined });

const STREAM_TYPES = [
  'side_conversation.created',
  'side_conversation.replied',
  'side_conversation.state_changed',
  'side_conversation.subject_changed',
  'side_conversation.delivery_changed',
];

function invalidateFor(client: QueryClient, message: StreamMessage): void {
  void client.invalidateQueries({ queryKey: ['ticket', message.ticket_id] });
  void client.invalidateQueries({ queryKey: ['ticket_list'] });
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [mode, setMode] = useState<Mode>('connecting');
  const listeners = useRef(new Set<Listener>());

  useEffect(() => {
    let source: EventSource | null = null;
    let cancelled = false;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const connect = async () => {
      // Probe first: EventSource cannot tell a 404 (no stream on this server) from a network error.
      // The probe's answer headers are all it needs; it is aborted as soon as they arrive.
      const probe = new AbortController();
      try {
        const res = await fetch('/api/v2/sideline/stream', { credentials: 'same-origin', signal: probe.signal });
        probe.abort();
        if (!res.ok) {
          if (!cancelled) setMode('polling');
          if (res.status !== 404) retry = setTimeout(() => void connect(), 30_000);
          return;
        }
      } catch {
        if (!cancelled) setMode('polling');
        retry = setTimeout(() => void connect(), 10_000);
        return;
      }
      if (cancelled) return;
      source = new EventSource('/api/v2/sideline/stream', { withCredentials: true });
      source.onopen = () => setMode('stream');
      source.onerror = () => {
        // EventSource reconnects by itself (with Last-Event-ID); poll meanwhile.
        setMode('polling');
      };
      for (const type of STREAM_TYPES) {
        source.addEventListener(type, (e) => {
          let message: StreamMessage;
          try {
            message = JSON.parse((e as MessageEvent<string>).data) as StreamMessage;
          } catch {
            return;
          }
          invalidateFor(client, message);
          for (const listener of listeners.current) listener(message);
        });
      }
    };
    void connect();
    return () => {
      cancelled = true;
      if (retry) clearTimeout(retry);
      source?.close();
    };
  }, [client]);

  const value = useRef<LiveState>({ mode, subscribe: () => () => undefined });
  value.current = {
    mode,
    subscribe(listener) {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  };
  return <LiveContext.Provider value={value.current}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/** How often a page re-reads: not at all while the stream is up (it invalidates), else `pollMs`. */
export function useRefetchInterval(pollMs: number): number | false {
  const { mode } = useLive();
  return mode === 'stream' ? false : pollMs;
}
