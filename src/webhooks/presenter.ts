import type { ParticipantRecord, SideConversation, SideConversationEvent, Webhook, WebhookInvocation, WebhookInvocationAttempt } from '../db/types.js';
import { isoSeconds } from '../http/time.js';
import { presentEvent, presentSideConversation } from '../side-conversations/presenter.js';
import type { EventDetails } from '../side-conversations/service.js';
import type { PresentedParticipant } from '../side-conversations/repo.js';
import type { InvocationRow } from './repo.js';

/**
 * A webhook as Zendesk shows it. Credentials are write-only: `authentication` names its type and
 * position, and (not being secret) the basic_auth user name or the api_key header name, never the
 * password, token or key. The signing secret is shown only by the signing_secret endpoints.
 */
export function presentWebhook(w: Webhook) {
  const authentication = w.auth_type
    ? {
        type: w.auth_type,
        add_position: w.auth_add_position ?? 'header',
        ...(w.auth_type === 'basic_auth' ? { data: { username: w.auth_name ?? '' } } : {}),
        ...(w.auth_type === 'api_key' ? { data: { name: w.auth_name ?? '' } } : {}),
      }
    : undefined;
  return {
    id: w.id,
    name: w.name,
    description: w.description ?? undefined,
    endpoint: w.endpoint,
    http_method: w.http_method,
    request_format: w.request_format,
    status: w.status,
    subscriptions: w.subscriptions,
    ...(authentication ? { authentication } : {}),
    custom_headers: w.custom_headers,
    created_at: isoSeconds(w.created_at),
    created_by: w.created_by,
    updated_at: isoSeconds(w.updated_at),
    updated_by: w.updated_by,
  };
}

/** pending (not delivered yet; retries may follow), success (answered 2xx), failed (given up). */
export function presentInvocation(row: InvocationRow) {
  return {
    id: row.id,
    status: row.outbox_status === 'delivered' ? 'success' : row.outbox_status === 'failed' ? 'failed' : 'pending',
    status_code: row.status_code,
    latest_completed_at: row.latest_completed_at ? isoSeconds(row.latest_completed_at) : null,
    event_type: row.event_type,
    created_at: isoSeconds(row.created_at),
  };
}

export function presentAttempt(attempt: WebhookInvocationAttempt, invocation: WebhookInvocation) {
  return {
    id: attempt.id,
    invocation_id: attempt.invocation_id,
    status: attempt.status,
    completed_at: isoSeconds(attempt.completed_at),
    duration_ms: attempt.duration_ms,
    request: { headers: attempt.request_headers, payload: invocation.payload ?? '' },
    response: { headers: attempt.response_headers, payload: attempt.response_body, status: attempt.status_code },
    error: attempt.error,
  };
}

/**
 * The body of a webhook request: Zendesk's event envelope. `detail` is the side conversation as
 * Show presents it, `event` the event as the events endpoint does (with its deliveries), both as
 * they are when the first attempt is made (later attempts resend the same bytes).
 */
export function presentEnvelope(
  invocation: WebhookInvocation,
  found: { sc: SideConversation; participants: ReadonlyArray<ParticipantRecord | PresentedParticipant>; event: SideConversationEvent; details: EventDetails },
  base: string,
) {
  return {
    type: invocation.event_type,
    account_id: invocation.account_id,
    id: invocation.envelope_id,
    time: isoSeconds(invocation.created_at),
    subject: `zen:side_conversation:${found.sc.id}`,
    detail: presentSideConversation(found.sc, found.participants, base),
    event: presentEvent(found.event, found.details, base),
  };
}
