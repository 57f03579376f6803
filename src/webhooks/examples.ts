/**
 * Request and response examples of the webhook endpoints, for the reference page at /api/v2/docs:
 * the help desk on https://help.example.com sends side conversation replies to its CRM. Secrets in
 * request bodies are placeholders; answers never carry credentials back.
 */
import { sideConversationExamples } from '../side-conversations/examples.js';

const ID = '01JEXAMPLE7WEBHOOK0000000A';
const INVOCATION = '4b0b7d2e-7a39-4a8e-9c55-0d8f3e0f6a11';
const PAGE = 'https://help.example.com/api/v2/webhooks';

const input = {
  name: 'CRM: side conversation replies',
  description: 'Copies every reply into the CRM',
  endpoint: 'https://crm.example.com/zendesk/webhooks',
  http_method: 'POST',
  request_format: 'json',
  status: 'active',
  subscriptions: ['zen:event-type:side_conversation.replied', 'zen:event-type:side_conversation.delivery_failed'],
  custom_headers: { 'X-Source': 'sideline' },
};

const webhook = {
  id: ID,
  ...input,
  authentication: { type: 'bearer_token', add_position: 'header' },
  created_at: '2026-12-01T10:00:00Z',
  created_by: '1',
  updated_at: '2026-12-01T10:00:00Z',
  updated_by: '1',
};

/** The body of one request: Zendesk's event envelope around the side conversation and its event. */
const envelope = {
  type: 'zen:event-type:side_conversation.replied',
  account_id: 1,
  id: 'f2a4c6e8-1b3d-4f5a-8c7e-9d0b1a2c3e4f',
  time: '2026-12-01T12:05:00Z',
  subject: `zen:side_conversation:${sideConversationExamples.showResponse.side_conversation.id}`,
  detail: sideConversationExamples.replyResponse.side_conversation,
  event: sideConversationExamples.replyResponse.event,
};

const meta = { has_more: false, after_cursor: 'MDFKRVhBTVBMRTdXRUJIT09LMDAwMDAwMEE', before_cursor: 'MDFKRVhBTVBMRTdXRUJIT09LMDAwMDAwMEE' };

export const webhookExamples = {
  envelope,
  createBody: { webhook: { ...input, authentication: { type: 'bearer_token', data: { token: 'your-crm-api-token' }, add_position: 'header' } } },
  showResponse: { webhook },
  listResponse: { webhooks: [webhook], meta, links: { next: null, prev: null } },
  updateBody: { webhook: { ...input, status: 'inactive', authentication: { type: 'bearer_token', add_position: 'header' } } },
  patchBody: { webhook: { status: 'inactive', custom_headers: { 'X-Source': null } } },
  signingSecretResponse: { signing_secret: { algorithm: 'SHA256', secret: 'm3JBbHvG2cQb7kqZs0u0W3fJp9Q3b7l1c4Ue8aQm2nE=' } },
  testBody: { request: { endpoint: 'https://crm.example.com/zendesk/webhooks', http_method: 'POST', request_format: 'json', payload: '{"hello":"world"}' } },
  testResponse: { response: { status: 200, headers: [{ key: 'content-type', value: 'application/json' }], body: '{"ok":true}' } },
  invocationsResponse: {
    invocations: [{ id: INVOCATION, status: 'success', status_code: 200, latest_completed_at: '2026-12-01T12:05:31Z', event_type: envelope.type, created_at: '2026-12-01T12:05:00Z' }],
    meta: { has_more: false, after_cursor: 'Mw', before_cursor: 'Mw' },
    links: { next: null, prev: `${PAGE}/${ID}/invocations?page%5Bsize%5D=100&page%5Bbefore%5D=Mw` },
  },
  attemptsResponse: {
    attempts: [
      {
        id: '0c9e2f44-52a1-4f0e-9a8b-3c2d1e0f9a8b',
        invocation_id: INVOCATION,
        status: 'failed',
        completed_at: '2026-12-01T12:05:01Z',
        duration_ms: 87,
        request: {
          headers: [
            { key: 'content-type', value: 'application/json; charset=utf-8' },
            { key: 'x-zendesk-webhook-invocation-id', value: INVOCATION },
            { key: 'authorization', value: '[redacted]' },
          ],
          payload: JSON.stringify(envelope),
        },
        response: { headers: [{ key: 'content-type', value: 'text/plain' }], payload: 'Service Unavailable', status: 503 },
        error: null,
      },
      {
        id: '5d7f9b1c-3e5a-4c7e-8f0a-2b4d6f8a0c2e',
        invocation_id: INVOCATION,
        status: 'success',
        completed_at: '2026-12-01T12:05:31Z',
        duration_ms: 42,
        request: { headers: [{ key: 'x-zendesk-webhook-invocation-id', value: INVOCATION }], payload: JSON.stringify(envelope) },
        response: { headers: [{ key: 'content-type', value: 'application/json' }], payload: '{"ok":true}', status: 200 },
        error: null,
      },
    ],
  },
};
