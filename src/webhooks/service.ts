import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Principal } from '../auth/authenticator.js';
import type { Database, Webhook, WebhookAuthType, WebhookStatus } from '../db/types.js';
import { hasControlCharacters } from '../http/email.js';
import { cursorPage, type CursorPageQuery } from '../http/cursor-pagination.js';
import { BadParameter, invalidField, notFound, Refused, ValidationErrors } from '../errors.js';
import { checkOutboundUrl, OutboundAddressRefused } from '../net/outbound-guard.js';
import { webhookExamples } from './examples.js';
import { WEBHOOK_ID, newWebhookId } from './ids.js';
import {
  attemptsOf,
  deleteWebhook,
  findInvocation,
  findWebhook,
  insertWebhook,
  listInvocations,
  listWebhooks,
  updateWebhook,
  type InvocationRow,
  type InvocationStatusFilter,
} from './repo.js';
import { WebhookSecretUnavailable, type WebhookSecrets } from './secrets.js';
import { sendWebhookRequest, targetOf, type HeaderList, type WebhookTarget } from './send.js';
import { newSigningSecret, TEST_SIGNING_SECRET } from './signing.js';

/** The event types a webhook can subscribe to (the live stream's, and delivery failures). */
export const WEBHOOK_EVENT_TYPES = [
  'zen:event-type:side_conversation.created',
  'zen:event-type:side_conversation.replied',
  'zen:event-type:side_conversation.state_changed',
  'zen:event-type:side_conversation.subject_changed',
  'zen:event-type:side_conversation.delivery_failed',
] as const;

const AUTH_TYPES: readonly WebhookAuthType[] = ['basic_auth', 'bearer_token', 'api_key'];
/** Zendesk's limit of custom headers, and of their names and values. */
const MAX_CUSTOM_HEADERS = 5;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** Headers the request sets itself, or that would change how it travels: not for custom_headers. */
const RESERVED_HEADERS = /^(authorization|proxy-authorization|cookie|host|content-type|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|expect|user-agent|x-zendesk-.*)$/i;

export interface AuthenticationInput {
  type?: string;
  data?: Record<string, string | undefined>;
  add_position?: string;
}

export interface WebhookInput {
  name?: string | null;
  description?: string | null;
  endpoint?: string | null;
  http_method?: string | null;
  request_format?: string | null;
  status?: string | null;
  subscriptions?: string[] | null;
  authentication?: AuthenticationInput | null;
  custom_headers?: Record<string, string | null> | null;
}

export interface WebhookListQuery extends CursorPageQuery {
  'filter[name_contains]'?: string | undefined;
  'filter[status]'?: 'active' | 'inactive' | undefined;
}

export interface InvocationListQuery extends CursorPageQuery {
  'filter[status]'?: InvocationStatusFilter | undefined;
  'filter[from_ts]'?: string | undefined;
  'filter[to_ts]'?: string | undefined;
}

export interface TestRequestInput {
  endpoint?: string;
  http_method?: string;
  request_format?: string;
  payload?: string;
  headers?: Array<{ key: string; value: string }>;
  authentication?: AuthenticationInput | null;
  custom_headers?: Record<string, string> | null;
}

/** What a resolved credential is: kept as stored, removed, or a new secret to seal. */
type ResolvedAuth = { kind: 'none' } | { kind: 'keep' } | { kind: 'set'; type: WebhookAuthType; name: string | null; secret: string };

interface ResolvedWebhook {
  name: string;
  description: string | null;
  endpoint: string;
  http_method: string;
  request_format: string;
  status: WebhookStatus;
  subscriptions: string[];
  custom_headers: Record<string, string>;
  auth: ResolvedAuth;
}

const F = (field: string) => `webhook.${field}`;

function text(value: unknown, field: string, errors: ValidationErrors, options: { required: boolean; max: number; prefix?: string }): string | null {
  const at = `${options.prefix ?? 'webhook'}.${field}`;
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    if (options.required) errors.add(at, `${at}: cannot be blank`, 'BlankValue');
    return null;
  }
  if (typeof value !== 'string' || value.length > options.max || hasControlCharacters(value)) {
    errors.add(at, `${at}: must be a single-line string of at most ${options.max} characters`);
    return null;
  }
  return value;
}

function resolveAuth(input: AuthenticationInput | null | undefined, existing: Webhook | null, absent: 'none' | 'keep', errors: ValidationErrors, field = F('authentication')): ResolvedAuth {
  if (input === undefined) return { kind: absent };
  if (input === null) return { kind: 'none' };
  const type = input.type as WebhookAuthType;
  if (!AUTH_TYPES.includes(type)) {
    errors.add(field, `${field}.type: must be one of ${AUTH_TYPES.join(', ')}`);
    return { kind: 'none' };
  }
  if (input.add_position !== undefined && input.add_position !== 'header') errors.add(field, `${field}.add_position: must be "header"`);
  const data = input.data ?? {};
  // Credentials are write-only: what a GET shows can be sent back, and the stored secret stays.
  const same = existing !== null && existing.auth_type === type;
  const secretKey = type === 'basic_auth' ? 'password' : type === 'bearer_token' ? 'token' : 'value';
  const nameKey = type === 'basic_auth' ? 'username' : type === 'api_key' ? 'name' : null;
  const name = nameKey ? (data[nameKey] ?? (same ? existing.auth_name : undefined)) : null;
  const secret = data[secretKey];
  if (nameKey && (typeof name !== 'string' || name === '' || name.length > 256 || hasControlCharacters(name))) {
    errors.add(field, `${field}.data.${nameKey}: is required, a single line of at most 256 characters`);
  }
  if (type === 'api_key' && typeof name === 'string' && (!HEADER_NAME.test(name) || RESERVED_HEADERS.test(name))) {
    errors.add(field, `${field}.data.name: must be an HTTP header name the request does not set itself`);
  }
  if (secret === undefined) {
    if (!same) errors.add(field, `${field}.data.${secretKey}: is required`);
    else if (nameKey && name !== existing.auth_name) errors.add(field, `${field}.data.${secretKey}: is required when ${nameKey} changes`);
    return same && (nameKey === null || name === existing.auth_name) ? { kind: 'keep' } : { kind: 'none' };
  }
  if (typeof secret !== 'string' || secret === '' || secret.length > 4096 || hasControlCharacters(secret)) {
    errors.add(field, `${field}.data.${secretKey}: must be a non-empty single line of at most 4096 characters`);
  }
  return { kind: 'set', type, name: typeof name === 'string' ? name : null, secret: String(secret) };
}

function resolveCustomHeaders(input: Record<string, string | null> | null | undefined, errors: ValidationErrors, field = F('custom_headers')): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(input ?? {})) {
    if (value === null) continue;
    if (!HEADER_NAME.test(key)) errors.add(field, `${field}: "${key.slice(0, 40)}" is not an HTTP header name (at most 128 characters)`);
    else if (RESERVED_HEADERS.test(key)) errors.add(field, `${field}: ${key} is set by the request itself; credentials go in authentication`);
    else if (typeof value !== 'string' || value === '' || value.length > 1000 || hasControlCharacters(value)) errors.add(field, `${field}.${key}: must be a single line of 1 to 1000 characters`);
    else if (Object.keys(out).some((k) => k.toLowerCase() === key.toLowerCase())) errors.add(field, `${field}: ${key} is given twice`);
    else out[key] = value;
  }
  if (Object.keys(out).length > MAX_CUSTOM_HEADERS) errors.add(field, `${field}: at most ${MAX_CUSTOM_HEADERS} headers`);
  return out;
}

function resolveSubscriptions(input: string[] | null | undefined, errors: ValidationErrors): string[] {
  const list = input ?? [];
  if (list.length === 0) errors.add(F('subscriptions'), `${F('subscriptions')}: subscribe to at least one of ${WEBHOOK_EVENT_TYPES.join(', ')}`, 'BlankValue');
  for (const type of list) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type)) {
      errors.add(
        F('subscriptions'),
        type === 'conditional_ticket_events'
          ? `${F('subscriptions')}: trigger and automation webhooks are not supported here; subscribe to side conversation events`
          : `${F('subscriptions')}: "${String(type).slice(0, 80)}" is not one of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      );
    }
  }
  return [...new Set(list)];
}

function checkMethodAndFormat(method: string | null, format: string | null, errors: ValidationErrors, prefix = 'webhook'): void {
  if (method !== null && method !== 'POST') errors.add(`${prefix}.http_method`, `${prefix}.http_method: must be POST for a webhook subscribed to events`);
  if (format !== null && format !== 'json') errors.add(`${prefix}.request_format`, `${prefix}.request_format: must be json for a webhook subscribed to events`);
}

export interface WebhooksServiceDeps {
  db: Kysely<Database>;
  secrets: WebhookSecrets;
  /** WEBHOOK_ALLOW_PRIVATE: endpoints may be plain http and private, loopback or link-local addresses. */
  allowPrivate: boolean;
  timeoutMs?: number;
}

/** Zendesk's Webhooks API for the account's admins: the webhooks, their secrets, tests and history. */
export function createWebhooksService(deps: WebhooksServiceDeps) {
  const { db, secrets, allowPrivate } = deps;

  /** https, absolute, and not a private address (checked again at every delivery, against DNS rebinding). */
  async function checkEndpoint(endpoint: string | null, field: string, errors: ValidationErrors): Promise<void> {
    if (endpoint === null) return;
    if (endpoint.length > 2048) {
      errors.add(field, `${field}: must be at most 2048 characters`);
      return;
    }
    try {
      await checkOutboundUrl(endpoint, { allowPrivate, requireHttps: !allowPrivate, allowSetting: 'WEBHOOK_ALLOW_PRIVATE' });
    } catch (error) {
      if (!(error instanceof OutboundAddressRefused)) throw error;
      errors.add(field, `${field}: ${error.message}`);
    }
  }

  async function resolve(input: WebhookInput, existing: Webhook | null, absentAuth: 'none' | 'keep'): Promise<ResolvedWebhook> {
    const errors = new ValidationErrors();
    const name = text(input.name, 'name', errors, { required: true, max: 255 });
    const description = text(input.description, 'description', errors, { required: false, max: 1024 });
    const endpoint = text(input.endpoint, 'endpoint', errors, { required: true, max: 2048 });
    const method = text(input.http_method, 'http_method', errors, { required: true, max: 16 });
    const format = text(input.request_format, 'request_format', errors, { required: true, max: 16 });
    const status = text(input.status, 'status', errors, { required: true, max: 16 });
    checkMethodAndFormat(method, format, errors);
    if (status !== null && status !== 'active' && status !== 'inactive') errors.add(F('status'), `${F('status')}: must be active or inactive`);
    const subscriptions = resolveSubscriptions(input.subscriptions, errors);
    const customHeaders = resolveCustomHeaders(input.custom_headers, errors);
    const auth = resolveAuth(input.authentication, existing, absentAuth, errors);
    if (auth.kind === 'set' && auth.type === 'api_key' && Object.keys(customHeaders).some((k) => k.toLowerCase() === auth.name?.toLowerCase())) {
      errors.add(F('custom_headers'), `${F('custom_headers')}: ${auth.name} is the api_key header`);
    }
    await checkEndpoint(endpoint, F('endpoint'), errors);
    errors.throwIfAny();
    return {
      name: name!,
      description,
      endpoint: endpoint!,
      http_method: method!,
      request_format: format!,
      status: status as WebhookStatus,
      subscriptions,
      custom_headers: customHeaders,
      auth,
    };
  }

  async function authColumns(auth: ResolvedAuth) {
    if (auth.kind === 'keep') return {};
    if (auth.kind === 'none') return { auth_type: null, auth_add_position: null, auth_name: null, auth_secret_sealed: null };
    return { auth_type: auth.type, auth_add_position: 'header', auth_name: auth.name, auth_secret_sealed: await secrets.seal(auth.secret) };
  }

  async function existing(accountId: number, id: string): Promise<Webhook> {
    if (!WEBHOOK_ID.test(id)) throw notFound();
    const webhook = await findWebhook(db, accountId, id);
    if (!webhook) throw notFound();
    return webhook;
  }

  async function store(me: Principal, id: string, resolved: ResolvedWebhook): Promise<void> {
    const { auth, ...values } = resolved;
    const columns = await authColumns(auth);
    await db.transaction().execute(async (trx) => {
      if (!(await findWebhook(trx, me.accountId, id, true))) throw notFound();
      await updateWebhook(trx, me.accountId, id, { ...values, ...columns, updated_by: String(me.userId) });
    });
  }

  function openSecret(sealed: string): Promise<string> {
    return secrets.open(sealed).catch((error: unknown) => {
      if (error instanceof WebhookSecretUnavailable) {
        throw new Refused('EncryptionKeyMissing', `${error.message}; set SIDELINE_ENCRYPTION_KEY as it was when the webhook was saved`);
      }
      throw error;
    });
  }

  return {
    async create(me: Principal, input: WebhookInput): Promise<Webhook> {
      const { auth, ...values } = await resolve(input, null, 'none');
      return insertWebhook(db, {
        id: newWebhookId(),
        account_id: me.accountId,
        ...values,
        ...(await authColumns(auth)),
        signing_secret_sealed: await secrets.seal(newSigningSecret()),
        created_by: String(me.userId),
        updated_by: String(me.userId),
      });
    },

    show: existing,

    async list(accountId: number, query: WebhookListQuery) {
      const page = cursorPage(query, WEBHOOK_ID);
      const rows = await listWebhooks(db, accountId, { nameContains: query['filter[name_contains]'], status: query['filter[status]'] }, page);
      return { page, rows };
    },

    /** PUT: the whole webhook, as on create; credentials sent back as GET shows them are kept. */
    async replace(me: Principal, id: string, input: WebhookInput): Promise<void> {
      const webhook = await existing(me.accountId, id);
      await store(me, id, await resolve(input, webhook, 'none'));
    },

    /** PATCH (JSON merge patch): what is given changes, null removes, custom_headers merge by name. */
    async patch(me: Principal, id: string, patch: WebhookInput): Promise<void> {
      const webhook = await existing(me.accountId, id);
      const headers: Record<string, string | null> = patch.custom_headers === null ? {} : { ...webhook.custom_headers, ...(patch.custom_headers ?? {}) };
      const merged: WebhookInput = {
        name: webhook.name,
        description: webhook.description,
        endpoint: webhook.endpoint,
        http_method: webhook.http_method,
        request_format: webhook.request_format,
        status: webhook.status,
        subscriptions: webhook.subscriptions,
        ...Object.fromEntries(Object.entries(patch).filter(([k]) => k !== 'authentication' && k !== 'custom_headers')),
        custom_headers: headers,
        ...(patch.authentication === undefined ? {} : { authentication: patch.authentication }),
      };
      await store(me, id, await resolve(merged, webhook, 'keep'));
    },

    async remove(accountId: number, id: string): Promise<void> {
      if (!WEBHOOK_ID.test(id) || !(await deleteWebhook(db, accountId, id))) throw notFound();
    },

    async signingSecret(accountId: number, id: string): Promise<string> {
      return openSecret((await existing(accountId, id)).signing_secret_sealed);
    },

    /** A new secret; requests from now on are signed with it (a retry of an older event too). */
    async resetSigningSecret(me: Principal, id: string): Promise<string> {
      await existing(me.accountId, id);
      const secret = newSigningSecret();
      const sealed = await secrets.seal(secret);
      await db.transaction().execute(async (trx) => {
        if (!(await findWebhook(trx, me.accountId, id, true))) throw notFound();
        await updateWebhook(trx, me.accountId, id, { signing_secret_sealed: sealed, updated_by: String(me.userId) });
      });
      return secret;
    },

    /**
     * Sends one request now and returns the answer. With `webhookId`, the saved webhook's endpoint,
     * credentials, headers and signing secret; without, the request's own settings, signed with
     * Zendesk's static test secret. Nothing is recorded.
     */
    async test(accountId: number, webhookId: string | undefined, request: TestRequestInput): Promise<{ status: number | null; headers: HeaderList; body: string }> {
      const errors = new ValidationErrors();
      checkMethodAndFormat(request.http_method ?? null, request.request_format ?? null, errors, 'request');
      const extraHeaders = resolveCustomHeaders(Object.fromEntries((request.headers ?? []).map((h) => [h.key, h.value])), errors, 'request.headers');
      let target: WebhookTarget;
      let signingSecret: string;
      if (webhookId !== undefined) {
        const webhook = await existing(accountId, webhookId);
        errors.throwIfAny();
        try {
          target = await targetOf(webhook, secrets);
        } catch (error) {
          if (error instanceof WebhookSecretUnavailable) throw new Refused('EncryptionKeyMissing', error.message);
          throw error;
        }
        signingSecret = await openSecret(webhook.signing_secret_sealed);
      } else {
        const endpoint = text(request.endpoint, 'endpoint', errors, { required: true, max: 2048, prefix: 'request' });
        const auth = resolveAuth(request.authentication, null, 'none', errors, 'request.authentication');
        const custom = resolveCustomHeaders(request.custom_headers, errors, 'request.custom_headers');
        errors.throwIfAny();
        target = { webhookId: null, endpoint: endpoint!, customHeaders: custom, auth: auth.kind === 'set' ? { type: auth.type, name: auth.name, secret: auth.secret } : null };
        signingSecret = TEST_SIGNING_SECRET;
      }
      errors.throwIfAny();
      await checkEndpoint(target.endpoint, webhookId === undefined ? 'request.endpoint' : F('endpoint'), errors);
      errors.throwIfAny();
      target.customHeaders = { ...target.customHeaders, ...extraHeaders };
      const payload = request.payload ?? JSON.stringify({ ...webhookExamples.envelope, account_id: accountId, id: randomUUID(), time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
      const sent = await sendWebhookRequest(target, { accountId, invocationId: randomUUID(), payload, signingSecret }, { allowPrivate, ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }) });
      if (sent.error instanceof OutboundAddressRefused) throw invalidField('request.endpoint', sent.error.message);
      return { status: sent.status, headers: sent.responseHeaders, body: sent.error ? sent.error.message : sent.responseBody };
    },

    async invocations(accountId: number, webhookId: string, query: InvocationListQuery) {
      await existing(accountId, webhookId);
      const page = cursorPage(query, /^\d{1,18}$/);
      const time = (value: string | undefined, field: string) => {
        if (value === undefined) return undefined;
        const at = new Date(value);
        if (Number.isNaN(at.getTime())) throw new BadParameter(`${field} must be an ISO 8601 time such as 2026-12-01T10:00:00Z`);
        return at;
      };
      const rows = await listInvocations(
        db,
        accountId,
        webhookId,
        { status: query['filter[status]'], fromTs: time(query['filter[from_ts]'], 'filter[from_ts]'), toTs: time(query['filter[to_ts]'], 'filter[to_ts]') },
        page,
      );
      return { page, rows, keyOf: (row: InvocationRow) => row.seq };
    },

    async attempts(accountId: number, webhookId: string, invocationId: string) {
      await existing(accountId, webhookId);
      if (invocationId.length > 64) throw notFound();
      const invocation = await findInvocation(db, accountId, webhookId, invocationId);
      if (!invocation) throw notFound();
      return { invocation, attempts: await attemptsOf(db, accountId, invocationId) };
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
