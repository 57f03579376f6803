import type { Executor } from '../db/executor.js';
import type { OneStatement } from '../db/one-statement.js';
import type { ParticipantRecord, SideConversation, SideConversationChannel, SideConversationEvent } from '../db/types.js';

/**
 * What a channel adds to a write, inside its transaction. Each channel registers its own at wiring
 * time (channels/hooks.ts, given to the commands by the composition root), so the commands run
 * them without importing any channel.
 */
export interface ChannelHooks {
  /** The secret a new conversation of this channel is answered through (email: its Reply-To token). */
  newReplyToken?(): string;
  /**
   * Before a new conversation is written: the channel's own record of it (child ticket: the
   * ticket), returned as external ids to keep on the conversation. May throw Invalid.
   */
  beforeStart?(trx: Executor, start: ConversationStart): Promise<Record<string, string>>;
  /**
   * A message going out on this channel (written by an agent), before its event is written: the
   * channel's own record of it, added as parts of the statement that writes the event and its
   * outbox row (email: the Message-ID it will carry).
   */
  queueOutboundMessage?(statement: OneStatement, trx: Executor, message: QueuedMessage): Promise<void>;
  /** A message going out on this channel, once its event and outbox row are in: a child ticket takes the reply as a comment. */
  onOutboundMessage?(trx: Executor, message: OutboundMessage): Promise<void>;
}

export interface QueuedMessage {
  accountId: number;
  sideConversationId: string;
  eventId: string;
}

export interface ConversationStart {
  accountId: number;
  sideConversationId: string;
  actor: ParticipantRecord;
  subject: string;
  body: string;
  htmlBody: string;
  /** The first recipient as resolved (for a child ticket: its group and agent). */
  target: ParticipantRecord;
}

export interface OutboundMessage {
  accountId: number;
  sideConversation: SideConversation;
  event: SideConversationEvent;
  actor: ParticipantRecord;
  body: string;
  htmlBody: string;
}

export type SideConversationHooks = Partial<Record<SideConversationChannel, ChannelHooks>>;

