import { Type, type Static } from '@sinclair/typebox';
import { OffsetPageQuery, PageLinks } from '../http/pagination.js';
import { IntegerId } from '../http/schemas.js';
import { TicketSchema } from '../tickets/schemas.js';

export const TICKET_LIST_FILTERS = ['open', 'pending', 'solved', 'assigned_to_me', 'my_groups', 'all'] as const;
export type TicketListFilter = (typeof TICKET_LIST_FILTERS)[number];

export const TicketListQuery = Type.Intersect([
  OffsetPageQuery,
  Type.Object({
    filter: Type.Optional(
      Type.Union(
        TICKET_LIST_FILTERS.map((f) => Type.Literal(f)),
        { description: 'open (new and open), pending, solved (solved and closed), assigned_to_me and my_groups (unsolved), all (default)' },
      ),
    ),
  }),
]);
export type TicketListQuery = Static<typeof TicketListQuery>;

const UserSummary = Type.Union([Type.Object({ id: Type.Integer(), name: Type.String(), email: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]);

export const ConsoleTicket = Type.Composite([
  TicketSchema,
  Type.Object({
    requester: UserSummary,
    assignee: UserSummary,
    side_conversation_count: Type.Integer(),
    unread_count: Type.Integer({ description: "Events of the ticket's side conversations the caller has not read (not counting their own)" }),
  }),
]);

export const TicketListResponse = Type.Object({ tickets: Type.Array(ConsoleTicket), ...PageLinks });

const ReadMarker = Type.Object({
  side_conversation_id: Type.String(),
  last_read_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  unread_count: Type.Integer(),
});

export const ReadMarkersResponse = Type.Object({ read_markers: Type.Array(ReadMarker) });
export const ReadMarkerEnvelope = Type.Object({ read_marker: ReadMarker });

export const ReadMarkersParams = Type.Object({ ticket_id: IntegerId });
export const MarkReadParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
});

export const DestinationsResponse = Type.Object({
  slack_workspaces: Type.Array(
    Type.Object({
      team_id: Type.String(),
      name: Type.Union([Type.String(), Type.Null()]),
      channel_ids: Type.Array(Type.String(), { description: 'Channels of this workspace that side conversations have used, most recently used first' }),
    }),
  ),
  msteams: Type.Object({
    connected: Type.Boolean({ description: 'Whether a Microsoft Teams bot is connected' }),
    channel_ids: Type.Array(Type.String(), { description: 'Teams channels that side conversations have used, most recently used first' }),
  }),
});

export const SlackChannelsParams = Type.Object({ team_id: Type.String({ maxLength: 32 }) });
export const SlackChannelsResponse = Type.Object({
  slack_channels: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      is_private: Type.Boolean(),
      is_member: Type.Boolean({ description: 'Whether the bot is in the channel (it must be, to post there without the chat:write.public scope)' }),
    }),
    { description: "The workspace's unarchived public and private channels the bot can see, by name" },
  ),
  complete: Type.Boolean({ description: 'False when the workspace has more channels than one listing reads (2,000): type the id of the others' }),
});
