import { Type, type TSchema } from '@sinclair/typebox';
import { CursorPageMeta, CursorPageQuery } from '../http/cursor-pagination.js';

/**
 * Request bodies are loose here on purpose (types only, every field optional): the service names
 * each missing or bad field in one 422, as `webhook.endpoint`, whichever way it is wrong.
 */
const AuthenticationInput = Type.Object({
  type: Type.Optional(Type.String({ maxLength: 32 })),
  data: Type.Optional(Type.Record(Type.String(), Type.String())),
  add_position: Type.Optional(Type.String({ maxLength: 32 })),
});

const nullable = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

const WebhookFields = {
  name: nullable(Type.String()),
  description: nullable(Type.String()),
  endpoint: nullable(Type.String()),
  http_method: nullable(Type.String()),
  request_format: nullable(Type.String()),
  status: nullable(Type.String()),
  subscriptions: nullable(Type.Array(Type.String(), { maxItems: 20 })),
  authentication: nullable(AuthenticationInput),
};

export const WriteWebhookBody = Type.Object({
  webhook: Type.Object({ ...WebhookFields, custom_headers: nullable(Type.Record(Type.String(), Type.String())) }),
});

/** A JSON merge patch: a custom header set to null is removed. */
export const PatchWebhookBody = Type.Object({
  webhook: Type.Object({ ...WebhookFields, custom_headers: nullable(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))) }),
});

export const WebhookSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.Optional(Type.String()),
  endpoint: Type.String(),
  http_method: Type.String(),
  request_format: Type.String(),
  status: Type.String({ enum: ['active', 'inactive'] }),
  subscriptions: Type.Array(Type.String()),
  authentication: Type.Optional(
    Type.Object({
      type: Type.String({ enum: ['basic_auth', 'bearer_token', 'api_key'] }),
      add_position: Type.String(),
      data: Type.Optional(Type.Object({ username: Type.Optional(Type.String()), name: Type.Optional(Type.String()) })),
    }),
  ),
  custom_headers: Type.Record(Type.String(), Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  created_by: Type.String(),
  updated_at: Type.String({ format: 'date-time' }),
  updated_by: Type.String(),
});

export const WebhookEnvelope = Type.Object({ webhook: WebhookSchema });
export const WebhookList = Type.Object({ webhooks: Type.Array(WebhookSchema), ...CursorPageMeta });

export const WebhookParams = Type.Object({ webhook_id: Type.String({ maxLength: 64 }) });
export const InvocationParams = Type.Object({ webhook_id: Type.String({ maxLength: 64 }), invocation_id: Type.String({ maxLength: 64 }) });

export const WebhookListQuery = Type.Object({
  ...CursorPageQuery,
  'filter[name_contains]': Type.Optional(Type.String({ maxLength: 255, description: 'Webhooks whose name contains this (case-insensitive)' })),
  'filter[status]': Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
});

export const SigningSecretEnvelope = Type.Object({
  signing_secret: Type.Object({ algorithm: Type.Literal('SHA256'), secret: Type.String() }),
});

export const TestWebhookQuery = Type.Object({ webhook_id: Type.Optional(Type.String({ maxLength: 64, description: 'Test a saved webhook: its endpoint, credentials and signing secret' })) });

export const TestWebhookBody = Type.Object({
  request: Type.Optional(
    Type.Object({
      endpoint: Type.Optional(Type.String()),
      http_method: Type.Optional(Type.String()),
      request_format: Type.Optional(Type.String()),
      payload: Type.Optional(Type.String({ maxLength: 262_144 })),
      headers: Type.Optional(Type.Array(Type.Object({ key: Type.String(), value: Type.String() }), { maxItems: 5 })),
      authentication: nullable(AuthenticationInput),
      custom_headers: nullable(Type.Record(Type.String(), Type.String())),
    }),
  ),
});

const HeaderList = Type.Array(Type.Object({ key: Type.String(), value: Type.String() }));

export const TestWebhookResponse = Type.Object({
  response: Type.Object({
    status: Type.Union([Type.Integer(), Type.Null()], { description: 'null when no answer came (the reason is the body)' }),
    headers: HeaderList,
    body: Type.String(),
  }),
});

const InvocationSchema = Type.Object({
  id: Type.String(),
  status: Type.String({ enum: ['pending', 'success', 'failed'] }),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  latest_completed_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  event_type: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const InvocationListQuery = Type.Object({
  ...CursorPageQuery,
  'filter[status]': Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('success'), Type.Literal('failed')])),
  'filter[from_ts]': Type.Optional(Type.String({ maxLength: 64, description: 'Invocations created at or after this ISO 8601 time' })),
  'filter[to_ts]': Type.Optional(Type.String({ maxLength: 64, description: 'Invocations created at or before this ISO 8601 time' })),
});

export const InvocationList = Type.Object({ invocations: Type.Array(InvocationSchema), ...CursorPageMeta });

const AttemptSchema = Type.Object({
  id: Type.String(),
  invocation_id: Type.String(),
  status: Type.String({ enum: ['success', 'failed'] }),
  completed_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer(),
  request: Type.Object({ headers: HeaderList, payload: Type.String() }),
  response: Type.Object({ headers: HeaderList, payload: Type.String({ description: 'The first 1 KB of the answer' }), status: Type.Union([Type.Integer(), Type.Null()]) }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why no answer came (timeout, connection refused)' }),
});

export const AttemptList = Type.Object({ attempts: Type.Array(AttemptSchema) });
