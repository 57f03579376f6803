import type { IncomingHttpHeaders } from 'node:http';
import type { Webhook } from '../db/types.js';
import { guardedRequest } from '../net/guarded-request.js';
import type { WebhookSecrets } from './secrets.js';
import { webhookSignature, signatureTimestamp } from './signing.js';

/** Zendesk gives a webhook 12 seconds to answer. */
export const WEBHOOK_TIMEOUT_MS = 12_000;
/** How much of each answer is kept with its attempt. */
export const RESPONSE_KEEP_BYTES = 1024;

export type HeaderList = Array<{ key: string; value: string }>;

/** Where a request goes and how it authenticates, with its secret already opened. */
export interface WebhookTarget {
  /** The saved webhook's id; null for a test of a webhook not yet created. */
  webhookId: string | null;
  endpoint: string;
  auth: { type: 'basic_auth' | 'bearer_token' | 'api_key'; name: string | null; secret: string } | null;
  customHeaders: Record<string, string>;
}

/** The webhook's settings with its credential opened. */
export async function targetOf(webhook: Webhook, secrets: WebhookSecrets): Promise<WebhookTarget> {
  return {
    webhookId: webhook.id,
    endpoint: webhook.endpoint,
    customHeaders: webhook.custom_headers,
    auth:
      webhook.auth_type && webhook.auth_secret_sealed
        ? { type: webhook.auth_type, name: webhook.auth_name, secret: await secrets.open(webhook.auth_secret_sealed) }
        : null,
  };
}

export interface WebhookRequest {
  accountId: number;
  invocationId: string;
  payload: string;
  signingSecret: string;
}

export interface SendPolicy {
  allowPrivate: boolean;
  timeoutMs?: number;
}

/** What one attempt saw: an answer (status, headers, its first KB), or the reason there was none. */
export interface SentRequest {
  requestHeaders: HeaderList;
  durationMs: number;
  status: number | null;
  responseHeaders: HeaderList;
  responseBody: string;
  retryAfterMs: number | undefined;
  error: Error | null;
}

const REDACTED = '[redacted]';

function credentialHeader(auth: NonNullable<WebhookTarget['auth']>): [string, string] {
  switch (auth.type) {
    case 'basic_auth':
      return ['authorization', `Basic ${Buffer.from(`${auth.name ?? ''}:${auth.secret}`).toString('base64')}`];
    case 'bearer_token':
      return ['authorization', `Bearer ${auth.secret}`];
    case 'api_key':
      return [(auth.name ?? 'x-api-key').toLowerCase(), auth.secret];
  }
}

/** PostgreSQL text holds no NUL; an answer is whatever the endpoint sent. */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\ufffd');
}

function headerList(headers: IncomingHttpHeaders): HeaderList {
  return Object.entries(headers).flatMap(([key, value]) => (value === undefined ? [] : [{ key, value: storable(Array.isArray(value) ? value.join(', ') : value) }]));
}

/** Retry-After in seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * One signed POST, through the outbound guard (the endpoint is checked again here, and at connect
 * time, against DNS rebinding). Never throws for the endpoint's sake: a failure is in `error`.
 * Custom headers go first so that ours (content type, signature, ids, credentials) always win.
 */
export async function sendWebhookRequest(target: WebhookTarget, request: WebhookRequest, policy: SendPolicy): Promise<SentRequest> {
  const timestamp = signatureTimestamp();
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(target.customHeaders)) headers[key.toLowerCase()] = value;
  Object.assign(headers, {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Sideline Webhook',
    'x-zendesk-account-id': String(request.accountId),
    'x-zendesk-webhook-invocation-id': request.invocationId,
    'x-zendesk-webhook-signature-timestamp': timestamp,
    'x-zendesk-webhook-signature': webhookSignature(request.signingSecret, timestamp, request.payload),
  });
  if (target.webhookId) headers['x-zendesk-webhook-id'] = target.webhookId;
  let credential: string | null = null;
  if (target.auth) {
    const [key, value] = credentialHeader(target.auth);
    headers[key] = value;
    credential = key;
  }
  const requestHeaders = Object.entries(headers).map(([key, value]) => ({ key, value: key === credential ? REDACTED : value }));
  const started = performance.now();
  try {
    const response = await guardedRequest(target.endpoint, {
      method: 'POST',
      headers,
      body: request.payload,
      allowPrivate: policy.allowPrivate,
      requireHttps: !policy.allowPrivate,
      allowSetting: 'WEBHOOK_ALLOW_PRIVATE',
      timeoutMs: policy.timeoutMs ?? WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: RESPONSE_KEEP_BYTES,
      truncateResponse: true,
    });
    return {
      requestHeaders,
      durationMs: Math.round(performance.now() - started),
      status: response.status,
      responseHeaders: headerList(response.headers),
      responseBody: storable(response.body.toString('utf8')),
      retryAfterMs: retryAfterMs(response.headers['retry-after']),
      error: null,
    };
  } catch (error) {
    return {
      requestHeaders,
      durationMs: Math.round(performance.now() - started),
      status: null,
      responseHeaders: [],
      responseBody: '',
      retryAfterMs: undefined,
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
}
