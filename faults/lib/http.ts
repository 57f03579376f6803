/**
 * Two clients: `api()` (fetch, for well-formed traffic) and `rawRequest()`, which writes exact bytes
 * on a socket, so hostile requests (CR/LF in headers, unnormalised `../` paths, lying
 * Content-Length) reach the server as written instead of being fixed or refused by a client library.
 */
import { connect } from 'node:net';

export interface ApiResult {
  status: number;
  body: unknown;
  text: string;
  /** Set when no response arrived (connection refused or reset, timeout). */
  error?: string;
}

export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: { auth?: string; json?: unknown; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.auth) headers['authorization'] = options.auth;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: res.status, body, text };
  } catch (error) {
    return { status: 0, body: null, text: '', error: describeError(error) };
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause ? `${error.message} (${cause.code ?? cause.message ?? 'cause'})` : error.message;
  }
  return String(error);
}

export const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

// ------------------------------------------------------------------------------------------ raw

export interface RawRequest {
  method: string;
  /** Written as is: no normalisation, no encoding. */
  target: string;
  /** Raw header lines [name, value]; values may hold anything, including CR/LF. */
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  /** 'auto' (default): Content-Length of the body when there is one; 'none': no header; a string: that value. */
  contentLength?: 'auto' | 'none' | string;
  /** Half-close the socket after writing (the server sees the end of the request stream). */
  endAfterWrite?: boolean;
  /** The client address to connect from (any 127.x.y.z on Linux), so a server sees several clients. */
  localAddress?: string;
}

export interface RawResponse {
  /** 0 when no response came. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  json: unknown;
  ms: number;
  /** Why there is no (complete) response: 'closed', 'timeout', 'reset: …'. */
  failure?: string;
}

export function buildRequest(port: number, request: RawRequest): Buffer {
  const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, 'utf8');
  const lines = [`${request.method} ${request.target} HTTP/1.1`];
  const headers = request.headers ?? [];
  if (!headers.some(([n]) => n.toLowerCase() === 'host')) lines.push(`Host: 127.0.0.1:${port}`);
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  const cl = request.contentLength ?? 'auto';
  if (cl === 'auto') {
    if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
  } else if (cl !== 'none') {
    lines.push(`Content-Length: ${cl}`);
  }
  lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

/** Parses what arrived; complete=false while more bytes are due. */
function parseResponse(data: Buffer): { complete: boolean; status: number; headers: Record<string, string>; body: Buffer } | null {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const head = data.subarray(0, end).toString('latin1').split('\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!statusMatch) return null;
  const status = Number(statusMatch[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(end + 4);
  if (status === 100) {
    const next = parseResponse(rest);
    return next;
  }
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd === -1) return { complete: false, status, headers, body: Buffer.concat(chunks) };
      const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (Number.isNaN(size)) return { complete: true, status, headers, body: Buffer.concat(chunks) };
      if (size === 0) return { complete: true, status, headers, body: Buffer.concat(chunks) };
      if (rest.length < lineEnd + 2 + size + 2) return { complete: false, status, headers, body: Buffer.concat(chunks) };
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = headers['content-length'] === undefined ? null : Number(headers['content-length']);
  if (length === null) return { complete: false, status, headers, body: rest };
  return { complete: rest.length >= length, status, headers, body: rest.subarray(0, length) };
}

export function rawRequest(port: number, request: RawRequest | Buffer, timeoutMs = 30_000): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(request) ? request : buildRequest(port, request);
  const endAfterWrite = Buffer.isBuffer(request) ? false : request.endAfterWrite === true;
  const started = Date.now();
  return new Promise((resolve) => {
    const localAddress = Buffer.isBuffer(request) ? undefined : request.localAddress;
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
    let data = Buffer.alloc(0);
    let settled = false;
    const finish = (failure?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(data);
      const body = parsed?.body ?? Buffer.alloc(0);
      const text = body.toString('utf8');
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      const complete = parsed?.complete ?? false;
      resolve({
        status: parsed?.status ?? 0,
        headers: parsed?.headers ?? {},
        body,
        text,
        json,
        ms: Date.now() - started,
        ...(parsed && (complete || !failure) ? {} : { failure: failure ?? 'closed' }),
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes, () => {
        if (endAfterWrite) socket.end();
      });
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (parseResponse(data)?.complete) finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(`reset: ${error.code ?? error.message}`));
    socket.on('close', () => finish(parseResponse(data) ? undefined : 'closed'));
  });
}
