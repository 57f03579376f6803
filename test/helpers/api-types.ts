/**
 * Shapes of the API's responses as the tests read them (only what they read; see API-NOTES.md).
 * Where the test files needed different parts of one shape, the shape here has all of them.
 */

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
  url: string;
  id: string;
  ticket_id: number;
  subject: string;
  preview_text: string;
  state: string;
  participants: Participant[];
  created_at: string;
  updated_at: string;
  message_added_at: string;
  state_updated_at: string;
  external_ids: Record<string, string>;
}

/** An upload's answer (POST /api/v2/tickets/side_conversations/attachments). */
export interface Upload {
  id: string;
  name: string;
  file_name: string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  inline: boolean;
  content_url: string;
}

/** An attachment as a message of an event lists it. */
export interface MessageAttachment {
  id: string;
  file_name: string;
  content_type: string;
  content_url: string;
  size: number;
  width: number | null;
  height: number | null;
  inline: boolean;
}

/** One recipient's delivery of a message. */
export interface Delivery {
  recipient: string;
  status: 'queued' | 'sent' | 'failed';
  reason: string | null;
  updated_at: string;
}

export interface EventMessage {
  subject: string | null;
  body: string;
  html_body: string;
  preview_text: string;
  from: Participant;
  to: Participant[];
  attachments: MessageAttachment[];
  deliveries: Delivery[];
  external_ids: Record<string, string>;
}

export interface ScEvent {
  id: string;
  side_conversation_id: string;
  ticket_id: number;
  actor: { user_id: number | null; name: string | null; email: string | null };
  type: string;
  via: string;
  created_at: string;
  message: EventMessage | null;
  updates: Record<string, unknown>;
}

/** The answer of Create, Reply and Update. */
export interface WriteBody {
  event: ScEvent | null;
  side_conversation: SideConversation;
  updates: Record<string, unknown>;
}

export interface ShowBody {
  side_conversation: SideConversation;
  events?: ScEvent[];
}

/** What every paginated list carries. */
export interface PageBody {
  count: number;
  next_page: string | null;
  previous_page: string | null;
}

export interface ListBody extends PageBody {
  side_conversations: SideConversation[];
  events?: ScEvent[];
}

/** GET …/side_conversations/:id/events */
export interface EventListBody extends PageBody {
  events: ScEvent[];
}

/** An error answer: RecordNotFound, RecordInvalid, … */
export interface ErrorBody {
  error: string;
  description?: string;
  details?: Record<string, Array<{ description: string; error?: string }>>;
}

/** A 422 RecordInvalid answer: the details are always there. */
export interface ValidationErrorBody {
  error: string;
  description: string;
  details: Record<string, Array<{ description: string; error?: string }>>;
}
