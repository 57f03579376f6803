/** The JSON shapes the console reads: Zendesk's, as Sideline answers them (see src/ of the server). */

export type Role = 'end-user' | 'agent' | 'admin';

export interface SessionUser {
  id: number;
  name: string;
  email: string;
  role: Role;
}

export interface Session {
  user: SessionUser;
  csrf_token: string;
  expires_at: string;
}

export interface PersonRef {
  id: number;
  name: string;
  email: string;
}

export interface User {
  id: number;
  name: string;
  email: string;
  role: Role;
  active?: boolean;
  suspended?: boolean;
  created_at?: string;
}

export interface GroupMembership {
  id: number;
  user_id: number;
  group_id: number;
  default: boolean;
  created_at: string;
}

export interface ApiToken {
  id: number;
  user_id: number;
  description: string | null;
  /** Only in the answer to Create: the token itself, shown once. */
  token?: string;
  token_hint: string;
  active: boolean;
  created_at: string;
}

export interface SlackWorkspace {
  id: number;
  team_id: string;
  name: string | null;
  created_at: string;
}

export interface TeamsBot {
  id: number;
  app_id: string;
  tenant_id: string;
  service_url: string;
  created_at: string;
}

/** GET /api/v2/sideline/side_conversation_destinations. */
export interface Destinations {
  slack_workspaces: Array<{ team_id: string; name: string | null; channel_ids: string[] }>;
  msteams: { connected: boolean; channel_ids: string[] };
}

/** GET /api/v2/sideline/side_conversation_destinations/slack/{team_id}/channels */
export interface SlackChannelList {
  slack_channels: Array<{ id: string; name: string; is_private: boolean; is_member: boolean }>;
  complete: boolean;
}

export interface Group {
  id: number;
  name: string;
}

export type TicketStatus = 'new' | 'open' | 'pending' | 'hold' | 'solved' | 'closed';

export interface Ticket {
  id: number;
  subject: string;
  description: string;
  status: TicketStatus;
  requester_id: number;
  assignee_id: number | null;
  group_id: number | null;
  created_at: string;
  updated_at: string;
}

/** A row of GET /api/v2/sideline/ticket_list. */
export interface TicketListRow extends Ticket {
  requester: PersonRef | null;
  assignee: PersonRef | null;
  side_conversation_count: number;
  unread_count: number;
}

export interface Page {
  count: number;
  next_page: string | null;
  previous_page: string | null;
}

export interface Comment {
  id: number;
  author_id: number;
  body: string;
  html_body: string;
  plain_body: string;
  public: boolean;
  created_at: string;
}

export interface Participant {
  user_id: number | null;
  name: string | null;
  email: string | null;
  slack_workspace_id?: string;
  slack_channel_id?: string;
  support_group_id?: number;
  support_agent_id?: number | null;
  msteams_channel_id?: string;
}

export interface SideConversation {
  id: string;
  ticket_id: number;
  subject: string;
  preview_text: string;
  state: 'open' | 'closed';
  participants: Participant[];
  created_at: string;
  updated_at: string;
  message_added_at: string;
  state_updated_at: string;
  external_ids: Record<string, string>;
}

export interface Attachment {
  id: string;
  file_name: string;
  content_type: string;
  content_url: string;
  size: number;
  width: number | null;
  height: number | null;
}

export interface Delivery {
  recipient: string;
  status: 'queued' | 'sent' | 'failed';
  reason: string | null;
  updated_at: string;
}

export interface SideConversationEvent {
  id: string;
  side_conversation_id: string;
  ticket_id: number;
  actor: { user_id: number | null; name: string | null; email: string | null };
  type: string;
  via: string;
  created_at: string;
  message: {
    subject: string | null;
    body: string;
    html_body: string;
    preview_text: string;
    from?: Participant | null;
    to: Participant[];
    attachments: Attachment[];
    deliveries?: Delivery[];
  } | null;
  updates: Record<string, unknown> | null;
}

export interface ReadMarker {
  side_conversation_id: string;
  last_read_at: string | null;
  unread_count: number;
}

/** What the stream sends for every side conversation change (contracts: "Live event stream"). */
export interface StreamMessage {
  id: string;
  type: string;
  ticket_id: number;
  side_conversation?: SideConversation;
}
