import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Timestamps: Date when read, Date or SQL default when written. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** jsonb columns: objects when read; written through the jsonb() helper. */
type Json<T> = ColumnType<T, unknown, unknown>;

export type UserRole = 'end-user' | 'agent' | 'admin';
export type TicketStatus = 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';
export type SideConversationState = 'open' | 'closed';
export type SideConversationChannel = 'email' | 'slack' | 'child_ticket' | 'msteams';
export type EventType = 'create' | 'reply' | 'update';
export type EventVia = 'api' | 'zendesk' | 'email' | 'slack' | 'msteams' | 'child_ticket';

export interface AccountsTable {
  id: Generated<number>;
  subdomain: string;
  name: string;
  support_address: string;
  next_ticket_id: Generated<number>;
  created_at: Timestamp;
}

export interface UsersTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  email: string | null;
  role: UserRole;
  password_hash: string | null;
  /** Changes whenever the password or a token changes: cached credentials carry it and die with it. */
  credentials_version: Generated<number>;
  active: Generated<boolean>;
  /** Suspended users keep their record but cannot authenticate (Zendesk's `suspended`). */
  suspended: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ApiTokensTable {
  id: Generated<number>;
  account_id: number;
  user_id: number;
  description: string | null;
  token_hash: string;
  token_hint: string;
  created_at: Timestamp;
}

export interface GroupsTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GroupMembershipsTable {
  id: Generated<number>;
  account_id: number;
  user_id: number;
  group_id: number;
  default: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TicketsTable {
  account_id: number;
  id: number;
  subject: string;
  description: string;
  status: TicketStatus;
  priority: string | null;
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  group_id: number | null;
  /** Set on a child ticket: the side conversation it was created for. */
  parent_side_conversation_id: string | null;
  via_channel: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Kept by the ticket import (migration 0010); null otherwise. */
  solved_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface TicketCommentsTable {
  id: Generated<number>;
  account_id: number;
  ticket_id: number;
  author_id: number;
  body: string;
  html_body: string;
  public: boolean;
  via_channel: string;
  created_at: Timestamp;
}

export interface SideConversationsTable {
  id: string;
  account_id: number;
  ticket_id: number;
  /** Insertion order: a stable sort key for offset pagination. */
  seq: Generated<number>;
  channel: SideConversationChannel;
  subject: string;
  state: SideConversationState;
  preview_text: string;
  external_ids: Json<Record<string, string>>;
  created_at: Timestamp;
  updated_at: Timestamp;
  message_added_at: Timestamp;
  state_updated_at: Timestamp;
  reply_token: ColumnType<string | null, string | null | undefined, string | null>;
  thread_ref: ColumnType<string | null, string | null | undefined, string | null>;
  thread_reply_to: ColumnType<string | null, string | null | undefined, string | null>;
  /** Set on imported conversations: the hash of their external_ids, unique per account (migration 0010). */
  import_key: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface SideConversationParticipantsTable {
  id: Generated<number>;
  account_id: number;
  side_conversation_id: string;
  position: number;
  user_id: number | null;
  name: string | null;
  email: string | null;
  slack_workspace_id: string | null;
  slack_channel_id: string | null;
  support_group_id: number | null;
  support_agent_id: number | null;
  msteams_channel_id: string | null;
}

export interface SideConversationEventsTable {
  id: string;
  account_id: number;
  side_conversation_id: string;
  ticket_id: number;
  seq: Generated<number>;
  type: EventType;
  via: EventVia;
  actor_user_id: number | null;
  actor_name: string | null;
  actor_email: string | null;
  message: Json<EventMessageRecord | null>;
  updates: Json<Record<string, unknown> | null>;
  created_at: Timestamp;
}

export interface ParticipantRecord {
  user_id: number | null;
  name: string | null;
  email: string | null;
  slack_workspace_id?: string;
  slack_channel_id?: string;
  support_group_id?: number;
  support_agent_id?: number | null;
  msteams_channel_id?: string;
}

export interface EventMessageRecord {
  subject: string | null;
  body: string;
  html_body: string;
  preview_text: string;
  from: ParticipantRecord;
  to: ParticipantRecord[];
  external_ids: Record<string, string>;
  attachment_ids: string[];
}

export type OutboxStatus = 'pending' | 'delivered' | 'failed';

/** What an outbox row is delivered through: a side conversation's channel, or a webhook (migration 0009). */
export type OutboxChannel = Exclude<SideConversationChannel, 'child_ticket'> | 'webhook';

export interface OutboxTable {
  id: Generated<number>;
  account_id: number;
  channel: OutboxChannel;
  side_conversation_id: string;
  event_id: string;
  status: Generated<OutboxStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  claimed_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  claimed_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface EmailMessagesTable {
  id: Generated<number>;
  account_id: number;
  side_conversation_id: string;
  event_id: string | null;
  message_id: string;
  direction: 'outbound' | 'inbound';
  created_at: Timestamp;
}

export type DeliveryStatus = 'queued' | 'sent' | 'failed';

export interface DeliveriesTable {
  id: Generated<number>;
  account_id: number;
  outbox_id: number;
  event_id: string;
  recipient: string;
  status: DeliveryStatus;
  reason: string | null;
  updated_at: Timestamp;
}

/** What the live stream tells: see migration 0007. */
export type FeedEventType =
  | 'side_conversation.created'
  | 'side_conversation.replied'
  | 'side_conversation.state_changed'
  | 'side_conversation.subject_changed'
  | 'side_conversation.delivery_changed';

export interface EventFeedTable {
  write_order: Generated<number>;
  id: Generated<string>;
  account_id: number;
  /** The stream cursor, per account; null until sequenced after commit. */
  position: number | null;
  type: FeedEventType;
  side_conversation_id: string;
  ticket_id: number;
  event_id: string;
  created_at: Timestamp;
}

export interface IdempotencyKeysTable {
  account_id: number;
  user_id: number;
  key: string;
  /** sha256 of what the request asked for: the same key with another request is refused. */
  fingerprint: string;
  /** Null while the first request is still running. */
  response_status: number | null;
  response_body: Json<unknown>;
  created_at: Timestamp;
}

export interface AttachmentsTable {
  id: string;
  account_id: number;
  uploader_id: number | null;
  file_name: string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  inline: Generated<boolean>;
  sha256: string;
  storage_key: string;
  ticket_id: number | null;
  side_conversation_id: string | null;
  event_id: string | null;
  created_at: Timestamp;
  relayed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface AttachmentBlobsTable {
  storage_key: string;
  bytes: Uint8Array;
  created_at: Timestamp;
}

export interface SlackWorkspacesTable {
  id: Generated<number>;
  account_id: number;
  team_id: string;
  name: string | null;
  bot_token_enc: string;
  signing_secret_enc: string;
  bot_user_id: string | null;
  created_at: Timestamp;
}

export interface TeamsBotsTable {
  id: Generated<number>;
  account_id: number;
  app_id: string;
  app_password_enc: string;
  tenant_id: string;
  service_url: string;
  created_at: Timestamp;
}

export interface InboundEventsSeenTable {
  source: string;
  event_id: string;
  created_at: Timestamp;
}

export interface InstallSecretsTable {
  name: string;
  secret: string;
  created_at: Timestamp;
}

export interface ConsoleSessionsTable {
  id: Generated<number>;
  account_id: number;
  user_id: number;
  /** SHA-256 (hex) of the cookie's token. */
  token_hash: string;
  csrf_token: string;
  credentials_version: number;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface ReadMarkersTable {
  account_id: number;
  user_id: number;
  side_conversation_id: string;
  last_read_at: Timestamp;
}

export type WebhookStatus = 'active' | 'inactive';
export type WebhookAuthType = 'basic_auth' | 'bearer_token' | 'api_key';

export interface WebhooksTable {
  /** A ULID, as Zendesk's webhook ids are. */
  id: string;
  account_id: number;
  name: string;
  description: string | null;
  endpoint: string;
  http_method: string;
  request_format: string;
  status: WebhookStatus;
  subscriptions: Json<string[]>;
  custom_headers: Json<Record<string, string>>;
  auth_type: WebhookAuthType | null;
  auth_add_position: string | null;
  /** The basic_auth user name or the api_key header name (not secret). */
  auth_name: string | null;
  /** The password, token or key, sealed (src/webhooks/secrets.ts). */
  auth_secret_sealed: string | null;
  signing_secret_sealed: string;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  circuit_failures: Generated<number>;
  circuit_open_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** Written by the triggers of migration 0009, in the event's transaction. */
export interface WebhookInvocationsTable {
  id: string;
  seq: Generated<number>;
  account_id: number;
  webhook_id: string;
  outbox_id: number;
  event_type: string;
  envelope_id: string;
  side_conversation_id: string;
  event_id: string;
  payload: string | null;
  created_at: Timestamp;
}

export interface WebhookInvocationAttemptsTable {
  id: string;
  seq: Generated<number>;
  account_id: number;
  invocation_id: string;
  status: 'success' | 'failed';
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  request_headers: Json<Array<{ key: string; value: string }>>;
  response_headers: Json<Array<{ key: string; value: string }>>;
  response_body: string;
  completed_at: Timestamp;
}

/** What `sideline import-from` has brought over from a source, per account (migration 0010). */
export interface ImportCheckpointsTable {
  account_id: number;
  source: string;
  kind: string;
  source_id: string;
  target_id: string;
  created_at: Timestamp;
}

export interface Database {
  import_checkpoints: ImportCheckpointsTable;
  webhooks: WebhooksTable;
  webhook_invocations: WebhookInvocationsTable;
  webhook_invocation_attempts: WebhookInvocationAttemptsTable;
  install_secrets: InstallSecretsTable;
  console_sessions: ConsoleSessionsTable;
  read_markers: ReadMarkersTable;
  slack_workspaces: SlackWorkspacesTable;
  teams_bots: TeamsBotsTable;
  inbound_events_seen: InboundEventsSeenTable;
  email_messages: EmailMessagesTable;
  deliveries: DeliveriesTable;
  attachments: AttachmentsTable;
  attachment_blobs: AttachmentBlobsTable;
  accounts: AccountsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  groups: GroupsTable;
  group_memberships: GroupMembershipsTable;
  tickets: TicketsTable;
  ticket_comments: TicketCommentsTable;
  side_conversations: SideConversationsTable;
  side_conversation_participants: SideConversationParticipantsTable;
  side_conversation_events: SideConversationEventsTable;
  outbox: OutboxTable;
  event_feed: EventFeedTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type Account = Selectable<AccountsTable>;
export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type Group = Selectable<GroupsTable>;
export type GroupMembership = Selectable<GroupMembershipsTable>;
export type Ticket = Selectable<TicketsTable>;
export type TicketComment = Selectable<TicketCommentsTable>;
export type SideConversation = Selectable<SideConversationsTable>;
export type SideConversationParticipant = Selectable<SideConversationParticipantsTable>;
export type SideConversationEvent = Selectable<SideConversationEventsTable>;
export type Attachment = Selectable<AttachmentsTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type Delivery = Selectable<DeliveriesTable>;
export type FeedEntry = Selectable<EventFeedTable>;
export type SlackWorkspace = Selectable<SlackWorkspacesTable>;
export type TeamsBot = Selectable<TeamsBotsTable>;
export type Webhook = Selectable<WebhooksTable>;
export type WebhookInvocation = Selectable<WebhookInvocationsTable>;
export type WebhookInvocationAttempt = Selectable<WebhookInvocationAttemptsTable>;
