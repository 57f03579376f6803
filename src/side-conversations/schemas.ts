import { Type, type Static } from '@sinclair/typebox';
import { PageLinks } from '../http/pagination.js';
import { IntegerId } from '../http/schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const IdLike = Type.Union([Type.Integer(), Type.String()]);

/** A participant as sent by clients; the type rules are checked in participants.ts with precise 422s. */
export const ParticipantInputSchema = Type.Object({
  user_id: Type.Optional(Nullable(Type.Integer())),
  name: Type.Optional(Nullable(Type.String())),
  email: Type.Optional(Nullable(Type.String())),
  slack_workspace_id: Type.Optional(Nullable(Type.String())),
  slack_channel_id: Type.Optional(Nullable(Type.String())),
  support_group_id: Type.Optional(Nullable(IdLike)),
  support_agent_id: Type.Optional(Nullable(IdLike)),
  msteams_channel_id: Type.Optional(Nullable(Type.String())),
});

/** Values are checked in the service so the 422 can name the offending key. */
export const ExternalIdsInput = Type.Record(Type.String(), Type.Unknown());

export const CreateSideConversationBody = Type.Object({
  message: Type.Object({
    subject: Type.Optional(Nullable(Type.String())),
    body: Type.Optional(Nullable(Type.String())),
    html_body: Type.Optional(Nullable(Type.String())),
    to: Type.Optional(Type.Array(ParticipantInputSchema)),
    from: Type.Optional(Nullable(ParticipantInputSchema)),
    external_ids: Type.Optional(Nullable(ExternalIdsInput)),
    attachment_ids: Type.Optional(Nullable(Type.Array(Type.String()))),
  }),
  external_ids: Type.Optional(Nullable(ExternalIdsInput)),
});
export type CreateSideConversationBody = Static<typeof CreateSideConversationBody>;

export const ReplyBody = Type.Object({
  message: Type.Object({
    body: Type.Optional(Nullable(Type.String())),
    html_body: Type.Optional(Nullable(Type.String())),
    to: Type.Optional(Nullable(Type.Array(ParticipantInputSchema))),
    from: Type.Optional(Nullable(ParticipantInputSchema)),
    external_ids: Type.Optional(Nullable(ExternalIdsInput)),
    attachment_ids: Type.Optional(Nullable(Type.Array(Type.String()))),
  }),
});
export type ReplyBody = Static<typeof ReplyBody>;

/** Only state and subject change; the read-only fields of a full object sent back are ignored. */
export const UpdateSideConversationBody = Type.Object({
  side_conversation: Type.Object(
    {
      state: Type.Optional(Type.String()),
      subject: Type.Optional(Nullable(Type.String())),
    },
    { additionalProperties: true },
  ),
});
export type UpdateSideConversationBody = Static<typeof UpdateSideConversationBody>;

export const ParticipantSchema = Type.Object({
  user_id: Type.Union([Type.Integer(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
  slack_workspace_id: Type.Optional(Type.String()),
  slack_channel_id: Type.Optional(Type.String()),
  support_group_id: Type.Optional(Type.Integer()),
  support_agent_id: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  msteams_channel_id: Type.Optional(Type.String()),
});

export const SideConversationSchema = Type.Object({
  url: Type.String(),
  id: Type.String({ format: 'uuid' }),
  ticket_id: Type.Integer(),
  subject: Type.String(),
  preview_text: Type.String(),
  state: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  participants: Type.Array(ParticipantSchema),
  created_at: Type.String(),
  updated_at: Type.String(),
  message_added_at: Type.String(),
  state_updated_at: Type.String(),
  external_ids: Type.Record(Type.String(), Type.String()),
});

export const AttachmentSchema = Type.Object({
  id: Type.String(),
  file_name: Type.String(),
  content_type: Type.String(),
  content_url: Type.String(),
  size: Type.Integer(),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  inline: Type.Boolean(),
});

export const EventMessageSchema = Type.Object({
  subject: Type.Union([Type.String(), Type.Null()]),
  body: Type.String(),
  html_body: Type.String(),
  preview_text: Type.String(),
  from: ParticipantSchema,
  to: Type.Array(ParticipantSchema),
  attachments: Type.Array(AttachmentSchema),
  /** Per recipient of an outbound message: queued, sent, or failed with the reason. */
  deliveries: Type.Array(
    Type.Object({
      recipient: Type.String(),
      status: Type.Union([Type.Literal('queued'), Type.Literal('sent'), Type.Literal('failed')]),
      reason: Type.Union([Type.String(), Type.Null()]),
      updated_at: Type.String(),
    }),
  ),
  external_ids: Type.Record(Type.String(), Type.String()),
});

export const EventSchema = Type.Object({
  id: Type.String(),
  side_conversation_id: Type.String(),
  ticket_id: Type.Integer(),
  actor: Type.Object({
    user_id: Type.Union([Type.Integer(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    email: Type.Union([Type.String(), Type.Null()]),
  }),
  type: Type.String(),
  via: Type.String(),
  created_at: Type.String(),
  message: Type.Union([EventMessageSchema, Type.Null()]),
  updates: Type.Record(Type.String(), Type.Unknown()),
});

export const WriteEnvelope = Type.Object({
  event: Type.Union([EventSchema, Type.Null()]),
  side_conversation: SideConversationSchema,
  updates: Type.Record(Type.String(), Type.Unknown()),
});

export const ShowEnvelope = Type.Object({
  side_conversation: SideConversationSchema,
  events: Type.Optional(Type.Array(EventSchema)),
});

export const ListEnvelope = Type.Object({
  side_conversations: Type.Array(SideConversationSchema),
  events: Type.Optional(Type.Array(EventSchema)),
  ...PageLinks,
});

export const EventList = Type.Object({ events: Type.Array(EventSchema), ...PageLinks });

export const UploadSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  file_name: Type.String(),
  content_type: Type.String(),
  content_url: Type.String(),
  size: Type.Integer(),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  inline: Type.Boolean(),
});

export const TicketParams = Type.Object({ ticket_id: IntegerId });
export const SideConversationParams = Type.Object({
  ticket_id: IntegerId,
  side_conversation_id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
});
export const IncludeQuery = Type.Object({
  include: Type.Optional(Type.String({ description: '"events" sideloads the events of the side conversations' })),
});
