import type { SideConversationHooks } from '../side-conversations/hooks.js';
import { childTicketHooks } from './child-ticket/sync.js';
import { cachedMessageIdKey, newReplyToken, recordOutboundMessageId } from './email/threading.js';

/**
 * What each channel adds to a side conversation's writes, registered here and handed to the
 * commands by the composition root (app.ts, runtime.ts): the domain never imports a channel.
 */
export function channelHooks(): SideConversationHooks {
  const readMessageIdKey = cachedMessageIdKey();
  return {
    email: {
      newReplyToken,
      onOutboundMessage: (trx, { accountId, sideConversation, event }) => recordOutboundMessageId(trx, accountId, sideConversation.id, event.id, readMessageIdKey),
    },
    child_ticket: childTicketHooks,
  };
}
