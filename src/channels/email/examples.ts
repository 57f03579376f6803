/**
 * Response examples of the inbound email endpoint, for the reference page at /api/v2/docs: the
 * vendor's reply to the side conversation of ticket 1 on https://help.example.com, posted by the
 * mail provider as the raw message (see docs/examples/reply.eml). The same message posted again is a
 * duplicate: 200 with the event already recorded.
 */
const received = {
  side_conversation_id: '8566255a-3b84-11ee-a3c1-2b2e8ed7d6f5',
  ticket_id: 1,
  event_id: 'c2d4e6f8-3b84-11ee-a3c1-2b2e8ed7d6f5',
};

export const inboundEmailExamples = {
  createdResponse: { inbound_email: { ...received, duplicate: false } },
  duplicateResponse: { inbound_email: { ...received, duplicate: true } },
};
