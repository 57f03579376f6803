import type { SideConversationHooks } from '../side-conversations/hooks.js';
import { childTicketHooks } from './child-ticket/sync.js';
import { cachedMessageIdKey, newReplyToken, queueOutboundMessageId } from './email/threading.js';

/**
 * What each channel adds to a side conversation's writes, registered here and handed to the
 * commands by the composition root (app.ts, runtime.ts): the domain never imports a channel.
 */
export function channelHooks(): SideConversationHooks {
  const readMessageIdKey = cachedMessageIdKey();
  return {
    email: {
      newReplyToken,
      queueOutboundMessage: (statement, trx, message) => queueOutboundMessageId(statement, trx, message, readMessageIdKey),
    },
    child_ticket: childTicketHooks,
  };
}
