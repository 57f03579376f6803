import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenLoopback, readBody } from './loopback-http.js';

/**
 * A loopback fake of Slack's Web API: enough of chat.postMessage, conversations.history,
 * conversations.replies, conversations.list (cursor paging over `channels`), users.info and the files.uploadV2 trio (getUploadURLExternal, the upload
 * POST, completeUploadExternal) for the Slack channel. Every call is recorded with the bot token
 * it carried; methods can be switched to answer `ratelimited` (HTTP 429 + Retry-After), a Slack
 * error code, or an HTTP error.
 */

export interface SlackMetadata {
  event_type?: string;
  event_payload?: Record<string, unknown>;
}

/** One request to a Web API method, as the fake read it. */
export interface SlackCall {
  method: string;
  /** The bot token of `Authorization: Bearer …` (or a `token` parameter). */
  token: string | null;
  contentType: string;
  /** Form fields or JSON body; JSON-encoded form values (metadata, files) are decoded. */
  params: Record<string, unknown>;
  /** What the fake answered. */
  status: number;
  response: Record<string, unknown>;
}

/** A message the fake accepted into a channel. */
export interface SlackPost {
  channel: string;
  ts: string;
  text: string;
  thread_ts?: string;
  metadata?: SlackMetadata;
  token: string | null;
}

/** The bytes POSTed to an upload_url. */
export interface SlackUpload {
  fileId: string;
  token: string | null;
  contentType: string;
  body: Buffer;
}

export interface SlackUser {
  id: string;
  name: string;
  real_name: string;
  profile: { real_name: string; display_name: string; email?: string };
}

/** A channel conversations.list answers with. */
export interface FakeSlackChannel {
  id: string;
  name: string;
  is_private?: boolean;
  is_member?: boolean;
  is_archived?: boolean;
}

export type SlackFailure =
  /** HTTP 429, `Retry-After: seconds`, body {ok:false, error:'ratelimited'}. */
  | { kind: 'ratelimited'; retryAfter: number }
  /** HTTP 200 with {ok:false, error}. */
  | { kind: 'error'; error: string }
  /** An HTTP error status; with `record`, a chat.postMessage is still taken into the channel first. */
  | { kind: 'http'; status: number; record?: boolean };

export interface FakeSlack {
  /** http://127.0.0.1:PORT (the Web API lives under /api/). */
  url: string;
  calls: SlackCall[];
  posts: SlackPost[];
  uploads: SlackUpload[];
  users: Map<string, SlackUser>;
  /** The workspace's channels, as conversations.list pages through them (in this order). */
  channels: FakeSlackChannel[];
  callsTo(method: string): SlackCall[];
  /** The next `times` calls of `method` answer with `failure`. */
  fail(method: string, failure: SlackFailure, times?: number): void;
  /** Forgets recorded calls and pending failures (posts stay: they are Slack's channel history). */
  clearCalls(): void;
  close(): Promise<void>;
}

const BOT_USER = 'UBOT0001';
const BOT_ID = 'BBOT0001';

/** Form values that are JSON (metadata, files, blocks) come back decoded. */
function decodeValue(key: string, value: string): unknown {
  if ((key === 'metadata' || key === 'files' || key === 'blocks') && /^[[{]/.test(value)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

function parseParams(contentType: string, raw: Buffer): Record<string, unknown> {
  if (contentType.startsWith('application/json')) {
    const parsed = JSON.parse(raw.toString('utf8') || '{}') as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  }
  const params: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) params[key] = decodeValue(key, value);
  return params;
}

function bearer(req: IncomingMessage): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
  return match ? match[1]! : null;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);
const truthy = (value: unknown): boolean => value === true || value === 'true' || value === '1' || value === 1;

export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const posts: SlackPost[] = [];
  const uploads: SlackUpload[] = [];
  const users = new Map<string, SlackUser>();
  const channels: FakeSlackChannel[] = [];
  const failures = new Map<string, SlackFailure[]>();
  let tsCounter = 100;
  let fileCounter = 0;
  let url = '';

  const messageOf = (p: SlackPost, withMetadata: boolean) => ({
    type: 'message',
    user: BOT_USER,
    bot_id: BOT_ID,
    text: p.text,
    ts: p.ts,
    ...(p.thread_ts ? { thread_ts: p.thread_ts } : {}),
    ...(withMetadata && p.metadata ? { metadata: p.metadata } : {}),
  });

  function answer(method: string, token: string | null, params: Record<string, unknown>): { status: number; body: Record<string, unknown>; accepted: boolean } {
    switch (method) {
      case 'chat.postMessage': {
        const channel = str(params['channel']);
        if (!channel) return { status: 200, body: { ok: false, error: 'channel_not_found' }, accepted: false };
        const text = str(params['text']) ?? '';
        const threadTs = str(params['thread_ts']);
        const metadata = params['metadata'] as SlackMetadata | undefined;
        const ts = `1700000000.${String(tsCounter++).padStart(6, '0')}`;
        const post: SlackPost = { channel, ts, text, token, ...(threadTs ? { thread_ts: threadTs } : {}), ...(metadata && typeof metadata === 'object' ? { metadata } : {}) };
        posts.push(post);
        return { status: 200, body: { ok: true, channel, ts, message: messageOf(post, true) }, accepted: true };
      }
      case 'conversations.history': {
        const channel = str(params['channel']);
        const withMetadata = truthy(params['include_all_metadata']);
        const messages = posts
          .filter((p) => p.channel === channel && (!p.thread_ts || p.thread_ts === p.ts))
          .reverse()
          .map((p) => messageOf(p, withMetadata));
        return { status: 200, body: { ok: true, messages, has_more: false, pin_count: 0, response_metadata: { next_cursor: '' } }, accepted: true };
      }
      case 'conversations.replies': {
        const channel = str(params['channel']);
        const ts = str(params['ts']);
        const withMetadata = truthy(params['include_all_metadata']);
        const thread = posts.filter((p) => p.channel === channel && (p.ts === ts || p.thread_ts === ts));
        if (thread.length === 0) return { status: 200, body: { ok: false, error: 'thread_not_found' }, accepted: false };
        return { status: 200, body: { ok: true, messages: thread.map((p) => messageOf(p, withMetadata)), has_more: false }, accepted: true };
      }
      case 'conversations.list': {
        // Slack's cursor paging: an opaque cursor (here the next offset, base64), '' on the last page.
        const limit = Math.min(1000, Math.max(1, Number(str(params['limit']) ?? '100') || 100));
        const cursor = str(params['cursor']);
        const offset = cursor ? Number(Buffer.from(cursor, 'base64').toString('utf8').replace(/^offset:/, '')) : 0;
        if (!Number.isInteger(offset) || offset < 0) return { status: 200, body: { ok: false, error: 'invalid_cursor' }, accepted: false };
        const types = (str(params['types']) ?? 'public_channel').split(',');
        const visible = channels.filter(
          (c) => (c.is_private ? types.includes('private_channel') : types.includes('public_channel')) && !(truthy(params['exclude_archived']) && c.is_archived),
        );
        const page = visible.slice(offset, offset + limit).map((c) => ({
          id: c.id,
          name: c.name,
          is_channel: !c.is_private,
          is_group: c.is_private === true,
          is_private: c.is_private === true,
          is_member: c.is_member === true,
          is_archived: c.is_archived === true,
        }));
        const more = offset + limit < visible.length;
        const next = more ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '';
        return { status: 200, body: { ok: true, channels: page, response_metadata: { next_cursor: next } }, accepted: true };
      }
      case 'users.info': {
        const user = users.get(str(params['user']) ?? '');
        if (!user) return { status: 200, body: { ok: false, error: 'user_not_found' }, accepted: false };
        return { status: 200, body: { ok: true, user }, accepted: true };
      }
      case 'files.getUploadURLExternal': {
        fileCounter += 1;
        const fileId = `F${fileCounter}`;
        return { status: 200, body: { ok: true, upload_url: `${url}/upload/${fileId}`, file_id: fileId }, accepted: true };
      }
      case 'files.completeUploadExternal': {
        const files = Array.isArray(params['files']) ? (params['files'] as Array<{ id?: string; title?: string }>) : [];
        return {
          status: 200,
          body: { ok: true, files: files.map((f) => ({ id: f.id, title: f.title ?? null, name: f.title ?? null })) },
          accepted: true,
        };
      }
      default:
        return { status: 200, body: { ok: false, error: 'unknown_method' }, accepted: false };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const contentType = String(req.headers['content-type'] ?? '');
    const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };

    const upload = /^\/upload\/([A-Za-z0-9]+)$/.exec(path);
    if (upload && req.method === 'POST') {
      uploads.push({ fileId: upload[1]!, token: bearer(req), contentType, body: raw });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`OK - ${raw.length}`);
      return;
    }
    const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(path);
    if (!api || req.method !== 'POST') {
      send(404, { ok: false, error: 'unknown_method' });
      return;
    }
    const method = api[1]!;
    let params: Record<string, unknown>;
    try {
      params = parseParams(contentType, raw);
    } catch {
      send(200, { ok: false, error: 'invalid_json' });
      return;
    }
    const token = bearer(req) ?? str(params['token']) ?? null;
    const record = (status: number, response: Record<string, unknown>) => calls.push({ method, token, contentType, params, status, response });

    if (!token) {
      const body = { ok: false, error: 'not_authed' };
      record(200, body);
      send(200, body);
      return;
    }
    const failure = failures.get(method)?.shift();
    if (failure) {
      if (failure.kind === 'ratelimited') {
        const body = { ok: false, error: 'ratelimited' };
        record(429, body);
        send(429, body, { 'retry-after': String(failure.retryAfter) });
        return;
      }
      if (failure.kind === 'error') {
        const body = { ok: false, error: failure.error };
        record(200, body);
        send(200, body);
        return;
      }
      if (failure.record) answer(method, token, params); // taken in, but the answer is lost
      const body = { ok: false, error: 'internal_error' };
      record(failure.status, body);
      send(failure.status, body);
      return;
    }
    const { status, body } = answer(method, token, params);
    record(status, body);
    send(status, body);
  }

  const loopback = await listenLoopback(handle);
  url = loopback.url;

  return {
    url,
    calls,
    posts,
    uploads,
    users,
    channels,
    callsTo: (method) => calls.filter((c) => c.method === method),
    fail(method, failure, times = 1) {
      const queue = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) queue.push(failure);
      failures.set(method, queue);
    },
    clearCalls() {
      calls.length = 0;
      uploads.length = 0;
      failures.clear();
    },
    close: loopback.close,
  };
}
