import { Type, type Static } from '@sinclair/typebox';
import { IntegerId } from '../http/schemas.js';
import { ExternalIdsInput, ParticipantInputSchema } from '../side-conversations/schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** Most events one import request may carry (a longer history is imported in several requests). */
export const MAX_IMPORTED_EVENTS = 1000;

const ImportActor = Type.Object({
  user_id: Type.Optional(Nullable(Type.Integer())),
  name: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  email: Type.Optional(Nullable(Type.String({ maxLength: 320 }))),
});

export const ImportedEventInput = Type.Object(
  {
    created_at: Type.String({ description: 'When the event happened (ISO 8601); in time order, not in the future' }),
    type: Type.Optional(Type.Union([Type.Literal('create'), Type.Literal('reply'), Type.Literal('update')])),
    via: Type.Optional(Type.String({ description: 'api, zendesk, email, slack, msteams or child_ticket (default api)' })),
    actor: Type.Optional(Nullable(ImportActor)),
    message: Type.Optional(
      Nullable(
        Type.Object(
          {
            subject: Type.Optional(Nullable(Type.String())),
            body: Type.Optional(Nullable(Type.String())),
            html_body: Type.Optional(Nullable(Type.String())),
            from: Type.Optional(Nullable(ParticipantInputSchema)),
            to: Type.Optional(Nullable(Type.Array(ParticipantInputSchema, { maxItems: 100 }))),
            external_ids: Type.Optional(Nullable(ExternalIdsInput)),
            attachment_ids: Type.Optional(Nullable(Type.Array(Type.String(), { maxItems: 20 }))),
            /** Zendesk's ticket import names upload tokens `uploads`: accepted as a synonym. */
            uploads: Type.Optional(Nullable(Type.Array(Type.String(), { maxItems: 20 }))),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    updates: Type.Optional(
      Nullable(Type.Object({ state: Type.Optional(Type.String()), subject: Type.Optional(Type.String()) }, { additionalProperties: false })),
    ),
  },
  { additionalProperties: true },
);
export type ImportedEventInput = Static<typeof ImportedEventInput>;

const Events = Type.Array(ImportedEventInput, { minItems: 1, maxItems: MAX_IMPORTED_EVENTS });

export const ImportSideConversationBody = Type.Object({
  side_conversation: Type.Object(
    {
      subject: Type.Optional(Nullable(Type.String())),
      state: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])),
      external_ids: Type.Optional(Nullable(ExternalIdsInput)),
      participants: Type.Optional(Nullable(Type.Array(ParticipantInputSchema, { maxItems: 100 }))),
    },
    { additionalProperties: true },
  ),
  events: Events,
});
export type ImportSideConversationBody = Static<typeof ImportSideConversationBody>;

export const ImportEventsBody = Type.Object({ events: Events });
export type ImportEventsBody = Static<typeof ImportEventsBody>;

const ImportedComment = Type.Object(
  {
    author_id: Type.Optional(IntegerId),
    value: Type.Optional(Type.String({ maxLength: 65_536 })),
    body: Type.Optional(Type.String({ maxLength: 65_536 })),
    html_body: Type.Optional(Type.String({ maxLength: 262_144 })),
    public: Type.Optional(Type.Boolean()),
    created_at: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const TicketStatus = Type.Union(['new', 'open', 'pending', 'hold', 'solved', 'closed'].map((s) => Type.Literal(s)));

/** Zendesk's Ticket Import (POST /api/v2/imports/tickets). */
export const ImportTicketBody = Type.Object({
  ticket: Type.Object(
    {
      subject: Type.Optional(Type.String({ maxLength: 255 })),
      description: Type.Optional(Type.String({ maxLength: 65_536 })),
      requester_id: Type.Optional(IntegerId),
      submitter_id: Type.Optional(IntegerId),
      assignee_id: Type.Optional(Nullable(IntegerId)),
      group_id: Type.Optional(Nullable(IntegerId)),
      status: Type.Optional(TicketStatus),
      priority: Type.Optional(Nullable(Type.Union(['low', 'normal', 'high', 'urgent'].map((s) => Type.Literal(s))))),
      created_at: Type.Optional(Type.String()),
      updated_at: Type.Optional(Type.String()),
      solved_at: Type.Optional(Nullable(Type.String())),
      via: Type.Optional(Type.Object({ channel: Type.String({ maxLength: 64 }) }, { additionalProperties: true })),
      comments: Type.Array(ImportedComment, { minItems: 1, maxItems: 5000 }),
    },
    { additionalProperties: true },
  ),
});
export type ImportTicketBody = Static<typeof ImportTicketBody>;

export const CreateOrUpdateUserBody = Type.Object({
  user: Type.Object(
    {
      email: Type.String({ maxLength: 320 }),
      name: Type.Optional(Type.String({ maxLength: 255 })),
      role: Type.Optional(Type.Union([Type.Literal('end-user'), Type.Literal('agent'), Type.Literal('admin')])),
    },
    { additionalProperties: true },
  ),
});
export type CreateOrUpdateUserBody = Static<typeof CreateOrUpdateUserBody>;
