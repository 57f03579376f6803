/**
 * An example of the event stream's text/event-stream body, for the reference page at /api/v2/docs:
 * the first two messages of the side conversation of ticket 1 on https://help.example.com, as a
 * client that connected with ?after=0 receives them, then a keep-alive comment.
 */
import { sideConversationExamples } from '../side-conversations/examples.js';

const created = sideConversationExamples.createResponse;
const replied = sideConversationExamples.replyResponse;

const messages = [
  {
    cursor: 1,
    data: {
      id: 'd1a0b2c4-3b84-11ee-a3c1-2b2e8ed7d6f5',
      type: 'side_conversation.created',
      account_id: 1,
      time: '2026-12-01T12:00:00.000Z',
      ticket_id: 1,
      side_conversation: created.side_conversation,
      event: created.event,
    },
  },
  {
    cursor: 2,
    data: {
      id: 'd1a0b2c5-3b84-11ee-a3c1-2b2e8ed7d6f5',
      type: 'side_conversation.replied',
      account_id: 1,
      time: '2026-12-01T12:05:00.000Z',
      ticket_id: 1,
      side_conversation: replied.side_conversation,
      event: replied.event,
    },
  },
];

export const eventStreamExamples = {
  stream:
    'retry: 2000\n\n' +
    messages.map((m) => `id: ${m.cursor}\nevent: ${m.data.type}\ndata: ${JSON.stringify(m.data)}\n\n`).join('') +
    ': ping\n\n',
};
