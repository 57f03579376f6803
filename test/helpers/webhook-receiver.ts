/** A webhook receiver on loopback: it records every request and answers from a script per path. */
import { listenLoopback, readBody, type LoopbackServer } from './loopback-http.js';

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface WebhookReceiver extends LoopbackServer {
  received: ReceivedRequest[];
  /** Requests to one path, in arrival order. */
  at(path: string): ReceivedRequest[];
  /** The answers for a path, in order; once they are used up, the path answers 200 `{"ok":true}`. */
  script(path: string, answers: ScriptedAnswer[]): void;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const scripts = new Map<string, ScriptedAnswer[]>();
  const server = await listenLoopback(async (req, res) => {
    const body = (await readBody(req)).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[key] = value;
    received.push({ path, method: req.method ?? '', headers, body });
    const answer = scripts.get(path)?.shift() ?? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    res.writeHead(answer.status, answer.headers ?? { 'content-type': 'text/plain' });
    res.end(answer.body ?? '');
  });
  return {
    ...server,
    received,
    at: (path) => received.filter((r) => r.path === path),
    script: (path, answers) => scripts.set(path, [...answers]),
  };
}
