/**
 * One outbound HTTP request to a URL that came from outside, through the outbound guard: the URL
 * is checked first, and the agent's lookup refuses private answers at connect time (DNS
 * rebinding). Answers are read up to a cap, so a hostile endpoint cannot fill our memory.
 */
import http from 'node:http';
import https from 'node:https';
import { checkOutboundUrl, guardedLookup } from './outbound-guard.js';

export interface GuardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface GuardedRequestOptions {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  allowPrivate: boolean;
  requireHttps?: boolean;
  timeoutMs: number;
  /** Largest answer read; a longer one fails the request (default 1 MB)... */
  maxResponseBytes?: number;
  /** ...unless this is set: then the answer is cut there, and its first bytes are the body. */
  truncateResponse?: boolean;
  /** The setting that allows private targets, named in refusals (default OUTBOUND_ALLOW_PRIVATE). */
  allowSetting?: string;
}

export async function guardedRequest(url: string, options: GuardedRequestOptions): Promise<GuardedResponse> {
  await checkOutboundUrl(url, { allowPrivate: options.allowPrivate, requireHttps: options.requireHttps ?? false, ...(options.allowSetting ? { allowSetting: options.allowSetting } : {}) });
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ lookup: guardedLookup(options.allowPrivate, options.allowSetting), keepAlive: false });
  const maxBytes = options.maxResponseBytes ?? 1024 * 1024;
  const headers = { ...options.headers, ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) };
  try {
    return await new Promise<GuardedResponse>((resolve, reject) => {
      const request = client.request(target, { method: options.method, headers, agent, timeout: options.timeoutMs, signal: AbortSignal.timeout(options.timeoutMs) }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            if (options.truncateResponse) {
              chunks.push(chunk.subarray(0, chunk.length - (size - maxBytes)));
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
              request.destroy();
              return;
            }
            request.destroy(new Error(`the answer from ${target.host} is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer from ${target.host} within ${options.timeoutMs} ms`)));
      request.on('error', reject);
      request.end(options.body);
    });
  } finally {
    agent.destroy();
  }
}
