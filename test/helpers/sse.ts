/** A Server-Sent Events client for the tests: a real HTTP connection, messages parsed as they arrive. */
import { request as httpRequest, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: IncomingMessage['headers'];
  messages: SseMessage[];
  /** Comment lines seen (`: ping`). */
  comments: string[];
  /** Resolves with the first `count` messages (waiting for them), or rejects after `timeoutMs`. */
  take(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  /** Resolves when the server ends the response. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const messages: SseMessage[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const message: SseMessage = { id: undefined, event: 'message', data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) message.id = line.slice(4);
            else if (line.startsWith('event: ')) message.event = line.slice(7);
            else if (line.startsWith('data: ')) {
              message.data += line.slice(6);
              isMessage = true;
            }
          }
          if (isMessage) messages.push(message);
          for (const w of [...waiters]) w();
        }
      });
      res.on('end', () => endedResolve());
      res.on('close', () => endedResolve());
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        comments,
        ended,
        take(count, timeoutMs = 10_000) {
          return new Promise((done, fail) => {
            const check = () => {
              if (messages.length >= count) {
                waiters.delete(check);
                clearTimeout(timer);
                done(messages.slice(0, count));
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`expected ${count} messages within ${timeoutMs} ms, got ${messages.length}: ${messages.map((m) => m.event).join(', ')}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}
