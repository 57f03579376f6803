import { Type, type Static } from '@sinclair/typebox';
import { PageLinks } from '../http/pagination.js';
import { IntegerId } from '../http/schemas.js';

const Nullable = <T extends ReturnType<typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);

export const TicketStatusSchema = Type.Union([
  Type.Literal('new'),
  Type.Literal('open'),
  Type.Literal('pending'),
  Type.Literal('hold'),
  Type.Literal('solved'),
  Type.Literal('closed'),
]);
export const TicketPrioritySchema = Type.Union([
  Type.Literal('low'),
  Type.Literal('normal'),
  Type.Literal('high'),
  Type.Literal('urgent'),
  Type.Null(),
]);

export const TicketSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  external_id: Type.Null(),
  via: Type.Object({ channel: Type.String() }),
  created_at: Type.String(),
  updated_at: Type.String(),
  type: Type.Null(),
  subject: Type.String(),
  raw_subject: Type.String(),
  description: Type.String(),
  priority: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  requester_id: Type.Integer(),
  submitter_id: Type.Integer(),
  assignee_id: Type.Union([Type.Integer(), Type.Null()]),
  organization_id: Type.Null(),
  group_id: Type.Union([Type.Integer(), Type.Null()]),
  tags: Type.Array(Type.String()),
});

const CommentInput = Type.Object({
  body: Type.Optional(Type.String({ maxLength: 65_536 })),
  html_body: Type.Optional(Type.String({ maxLength: 262_144 })),
  public: Type.Optional(Type.Boolean()),
});

export const CreateTicketBody = Type.Object({
  ticket: Type.Object({
    subject: Type.Optional(Type.String({ maxLength: 255 })),
    comment: CommentInput,
    requester_id: Type.Optional(IntegerId),
    group_id: Type.Optional(Nullable(IntegerId)),
    assignee_id: Type.Optional(Nullable(IntegerId)),
    status: Type.Optional(TicketStatusSchema),
    priority: Type.Optional(TicketPrioritySchema),
  }),
});
export type CreateTicketBody = Static<typeof CreateTicketBody>;

export const UpdateTicketBody = Type.Object({
  ticket: Type.Object({
    subject: Type.Optional(Type.String({ maxLength: 255 })),
    comment: Type.Optional(CommentInput),
    group_id: Type.Optional(Nullable(IntegerId)),
    assignee_id: Type.Optional(Nullable(IntegerId)),
    status: Type.Optional(TicketStatusSchema),
    priority: Type.Optional(TicketPrioritySchema),
  }),
});
export type UpdateTicketBody = Static<typeof UpdateTicketBody>;

export const TicketEnvelope = Type.Object({ ticket: TicketSchema });
export const TicketList = Type.Object({ tickets: Type.Array(TicketSchema), ...PageLinks });
export const TicketIdParams = Type.Object({ id: IntegerId });

export const CommentSchema = Type.Object({
  id: Type.Integer(),
  type: Type.String(),
  author_id: Type.Integer(),
  body: Type.String(),
  html_body: Type.String(),
  plain_body: Type.String(),
  public: Type.Boolean(),
  attachments: Type.Array(Type.Unknown()),
  via: Type.Object({ channel: Type.String() }),
  created_at: Type.String(),
});
export const CommentList = Type.Object({ comments: Type.Array(CommentSchema), ...PageLinks });
