/**
 * Request and response examples of the side conversation endpoints, for the reference page at
 * /api/v2/docs (they land in the OpenAPI document as media-type examples). The values are what a
 * real exchange looks like: the ids, times and URLs of one conversation on https://help.example.com.
 */
const BASE = 'https://help.example.com/api/v2/tickets/1/side_conversations/8566255a-3b84-11ee-a3c1-2b2e8ed7d6f5';
const SC_ID = '8566255a-3b84-11ee-a3c1-2b2e8ed7d6f5';
const AGENT = { user_id: 2, name: 'Agent Sally', email: 'sally@example.com' };
const VENDOR = { user_id: null, name: 'John Doe', email: 'someone@example.com' };

const sideConversation = {
  url: `${BASE}.json`,
  id: SC_ID,
  ticket_id: 1,
  subject: 'My printer is on fire!',
  preview_text: 'The smoke is very colorful.',
  state: 'open',
  participants: [AGENT, VENDOR],
  created_at: '2026-12-01T12:00:00Z',
  updated_at: '2026-12-01T12:00:00Z',
  message_added_at: '2026-12-01T12:00:00Z',
  state_updated_at: '2026-12-01T12:00:00Z',
  external_ids: { my_system_id: 'abc-123-xyz' },
};

const createEvent = {
  id: '85ac8a52-3b84-11ee-a3c1-2b2e8ed7d6f5',
  side_conversation_id: SC_ID,
  ticket_id: 1,
  actor: AGENT,
  type: 'create',
  via: 'api',
  created_at: '2026-12-01T12:00:00Z',
  message: {
    subject: 'My printer is on fire!',
    body: 'The smoke is very colorful.',
    html_body: '<p>The smoke is very colorful.</p>',
    preview_text: 'The smoke is very colorful.',
    from: AGENT,
    to: [VENDOR],
    attachments: [],
    deliveries: [{ recipient: 'someone@example.com', status: 'queued', reason: null, updated_at: '2026-12-01T12:00:00Z' }],
    external_ids: {},
  },
  updates: {},
};

const replyEvent = {
  ...createEvent,
  id: '9f1c2e10-3b84-11ee-a3c1-2b2e8ed7d6f5',
  type: 'reply',
  created_at: '2026-12-01T12:05:00Z',
  message: {
    ...createEvent.message,
    subject: null,
    body: 'Is it still burning?',
    html_body: '<p>Is it still burning?</p>',
    preview_text: 'Is it still burning?',
    attachments: [
      {
        id: 'b7e1f6a0-3b84-11ee-a3c1-2b2e8ed7d6f5',
        file_name: 'photo.png',
        content_type: 'image/png',
        content_url: `${BASE}/attachments/b7e1f6a0-3b84-11ee-a3c1-2b2e8ed7d6f5/download/photo.png`,
        size: 79,
        width: 4,
        height: 3,
        inline: false,
      },
    ],
    deliveries: [{ recipient: 'someone@example.com', status: 'sent', reason: null, updated_at: '2026-12-01T12:05:01Z' }],
  },
};

export const sideConversationExamples = {
  createBody: {
    message: {
      subject: 'My printer is on fire!',
      body: 'The smoke is very colorful.',
      to: [{ email: 'someone@example.com', name: 'John Doe' }],
    },
    external_ids: { my_system_id: 'abc-123-xyz' },
  },
  createResponse: { event: createEvent, side_conversation: sideConversation, updates: {} },
  updateBody: { side_conversation: { state: 'closed' } },
  updateResponse: {
    event: { ...createEvent, id: 'a41d7c3e-3b84-11ee-a3c1-2b2e8ed7d6f5', type: 'update', message: null, updates: { state: 'closed' } },
    side_conversation: { ...sideConversation, state: 'closed', state_updated_at: '2026-12-01T12:10:00Z' },
    updates: { state: 'closed' },
  },
  replyBody: { message: { body: 'Is it still burning?', attachment_ids: ['b7e1f6a0-3b84-11ee-a3c1-2b2e8ed7d6f5'] } },
  replyResponse: { event: replyEvent, side_conversation: { ...sideConversation, preview_text: 'Is it still burning?' }, updates: {} },
  showResponse: { side_conversation: sideConversation },
  listResponse: { side_conversations: [sideConversation], count: 1, next_page: null, previous_page: null },
  eventsResponse: { events: [createEvent, replyEvent], count: 2, next_page: null, previous_page: null },
  exportResponse: { events: [createEvent, replyEvent], next_page: null, end_time: 1796140800, count: 2 },
  uploadResponse: {
    id: 'b7e1f6a0-3b84-11ee-a3c1-2b2e8ed7d6f5',
    name: 'photo.png',
    file_name: 'photo.png',
    content_type: 'image/png',
    size: 79,
    width: 4,
    height: 3,
    inline: false,
    content_url: 'https://help.example.com/api/v2/tickets/side_conversations/attachments/b7e1f6a0-3b84-11ee-a3c1-2b2e8ed7d6f5/download/photo.png',
  },
};
