import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../db/types.js';
import { OutboundAddressRefused } from '../net/outbound-guard.js';
import type { Channel, DeliveryOutcome } from '../outbox/relay.js';
import { presentEnvelope } from './presenter.js';
import { enterCircuit, eventOfInvocation, fixPayload, invocationOfOutboxRow, recordAttempt, recordCircuitOutcome, type CircuitPolicy } from './repo.js';
import { WebhookSecretUnavailable, type WebhookSecrets } from './secrets.js';
import { sendWebhookRequest, targetOf, type SentRequest, type WebhookTarget } from './send.js';

/** Five failed attempts in a row pause an endpoint 30 s; every failed trial after that doubles it, up to 10 minutes. */
export const DEFAULT_CIRCUIT: CircuitPolicy = { threshold: 5, pauseMs: 30_000, maxPauseMs: 10 * 60_000, trialMs: 60_000 };

export interface WebhookChannelDeps {
  db: Kysely<Database>;
  secrets: WebhookSecrets;
  /** WEBHOOK_ALLOW_PRIVATE: plain http and private addresses allowed. */
  allowPrivate: boolean;
  /** Base of the `url` fields in bodies (PUBLIC_URL, else the server's own address). */
  baseUrl: string;
  timeoutMs?: number;
  circuit?: CircuitPolicy;
}

/**
 * Zendesk's retry rules: a timeout, a connection that failed, 409, 429 and 5xx are tried again
 * (after Retry-After when the endpoint gave one); any other answer is final, as is an address the
 * guard refuses (it would be refused again).
 */
export function classifyAttempt(sent: SentRequest): DeliveryOutcome {
  if (sent.error) {
    if (sent.error instanceof OutboundAddressRefused) return { kind: 'failed', reason: sent.error.message };
    return { kind: 'retry', reason: sent.error.message };
  }
  const status = sent.status ?? 0;
  if (status >= 200 && status < 300) return { kind: 'delivered', recipients: [] };
  if (status === 409 || status === 429 || status >= 500) {
    return { kind: 'retry', reason: `the endpoint answered HTTP ${status}`, ...(sent.retryAfterMs !== undefined ? { retryAfterMs: sent.retryAfterMs } : {}) };
  }
  return { kind: 'failed', reason: `the endpoint answered HTTP ${status}` };
}

/**
 * The relay's `webhook` channel: one signed POST per outbox row, each attempt recorded (status,
 * duration, the first KB of the answer) whatever its outcome. The invocation id comes from the
 * row written with the event, and the body is fixed on the first attempt, so a retry sends the
 * same id and bytes (receivers dedupe on the id; delivery is at least once).
 */
export function createWebhookChannel(deps: WebhookChannelDeps): Channel {
  const { db, secrets } = deps;
  const circuit = deps.circuit ?? DEFAULT_CIRCUIT;
  return {
    async deliver(row: OutboxRow): Promise<DeliveryOutcome> {
      const found = await invocationOfOutboxRow(db, row.id);
      if (!found) return { kind: 'failed', reason: 'the webhook was deleted' };
      const { invocation, webhook } = found;
      if (webhook.status !== 'active') return { kind: 'failed', reason: 'the webhook was deactivated before delivery' };

      const gate = await enterCircuit(db, webhook.id, circuit);
      if (!gate.allowed) return { kind: 'retry', reason: 'the endpoint is paused by the circuit breaker after failing repeatedly', retryAfterMs: gate.waitMs, attempted: false };

      let payload = invocation.payload;
      if (payload === null) {
        const event = await eventOfInvocation(db, invocation);
        if (!event) return { kind: 'failed', reason: 'the side conversation no longer exists' };
        payload = await fixPayload(db, invocation.id, JSON.stringify(presentEnvelope(invocation, event, deps.baseUrl)));
      }

      let target: WebhookTarget;
      let signingSecret: string;
      try {
        target = await targetOf(webhook, secrets);
        signingSecret = await secrets.open(webhook.signing_secret_sealed);
      } catch (error) {
        if (error instanceof WebhookSecretUnavailable) return { kind: 'failed', reason: error.message };
        throw error;
      }
      const sent = await sendWebhookRequest(
        target,
        { accountId: webhook.account_id, invocationId: invocation.id, payload, signingSecret },
        { allowPrivate: deps.allowPrivate, ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }) },
      );
      const outcome = classifyAttempt(sent);
      const succeeded = outcome.kind === 'delivered';
      await recordAttempt(db, {
        id: crypto.randomUUID(),
        account_id: webhook.account_id,
        invocation_id: invocation.id,
        status: succeeded ? 'success' : 'failed',
        status_code: sent.status,
        duration_ms: sent.durationMs,
        error: sent.error?.message ?? null,
        request_headers: sent.requestHeaders,
        response_headers: sent.responseHeaders,
        response_body: sent.responseBody,
      });
      await recordCircuitOutcome(db, webhook.id, succeeded, circuit);
      return outcome;
    },
  };
}
