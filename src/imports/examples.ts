/**
 * Request and response examples of the import endpoints, for the reference page at /api/v2/docs:
 * a side conversation from 2025 moved in with its history, on https://help.example.com.
 */
const SC_ID = '3f0c1b7e-5d2a-4f1e-9a34-1c2d3e4f5a6b';
const BASE = `https://help.example.com/api/v2/tickets/1/side_conversations/${SC_ID}`;
const AGENT = { user_id: 2, name: 'Agent Sally', email: 'sally@example.com' };
const VENDOR = { user_id: null, name: 'John Doe', email: 'someone@example.com' };

const sideConversation = {
  url: BASE,
  id: SC_ID,
  ticket_id: 1,
  subject: 'My printer is on fire!',
  preview_text: 'It is out now, thanks.',
  state: 'closed',
  participants: [AGENT, VENDOR],
  created_at: '2025-03-04T09:00:00.000+00:00',
  updated_at: '2025-03-04T11:00:00.000+00:00',
  message_added_at: '2025-03-04T10:30:00.000+00:00',
  state_updated_at: '2025-03-04T11:00:00.000+00:00',
  external_ids: { legacy_id: 'sc-481' },
};

const createEvent = {
  id: '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  side_conversation_id: SC_ID,
  ticket_id: 1,
  actor: AGENT,
  type: 'create',
  via: 'api',
  created_at: '2025-03-04T09:00:00.000Z',
  message: {
    subject: 'My printer is on fire!',
    body: 'The smoke is very colorful.',
    html_body: '<p>The smoke is very colorful.</p>',
    preview_text: 'The smoke is very colorful.',
    from: AGENT,
    to: [VENDOR],
    attachments: [],
    deliveries: [],
    external_ids: { legacy_message_id: 'm-1' },
  },
  updates: {},
};

export const importExamples = {
  importBody: {
    side_conversation: { subject: 'My printer is on fire!', external_ids: { legacy_id: 'sc-481' }, participants: [AGENT, VENDOR] },
    events: [
      {
        created_at: '2025-03-04T09:00:00Z',
        type: 'create',
        actor: AGENT,
        message: { subject: 'My printer is on fire!', body: 'The smoke is very colorful.', from: AGENT, to: [VENDOR], external_ids: { legacy_message_id: 'm-1' } },
      },
      { created_at: '2025-03-04T10:30:00Z', type: 'reply', actor: VENDOR, via: 'email', message: { body: 'It is out now, thanks.', from: VENDOR, to: [AGENT] } },
      { created_at: '2025-03-04T11:00:00Z', type: 'update', actor: AGENT, updates: { state: 'closed' } },
    ],
  },
  importResponse: { event: createEvent, side_conversation: sideConversation, updates: {} },
  eventsImportBody: {
    events: [{ created_at: '2025-03-05T08:00:00Z', type: 'reply', actor: VENDOR, via: 'email', message: { body: 'It started again.', from: VENDOR, to: [AGENT] } }],
  },
  eventsImportResponse: {
    event: {
      ...createEvent,
      id: '8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e',
      type: 'reply',
      via: 'email',
      actor: VENDOR,
      created_at: '2025-03-05T08:00:00.000Z',
      message: { ...createEvent.message, subject: null, body: 'It started again.', html_body: '<p>It started again.</p>', preview_text: 'It started again.', from: VENDOR, to: [AGENT], external_ids: {} },
    },
    side_conversation: { ...sideConversation, preview_text: 'It started again.', updated_at: '2025-03-05T08:00:00.000+00:00', message_added_at: '2025-03-05T08:00:00.000+00:00' },
    updates: {},
  },
  ticketImportBody: {
    ticket: {
      subject: 'Printer on fire',
      requester_id: 3,
      assignee_id: 2,
      status: 'solved',
      created_at: '2025-03-04T08:55:00Z',
      updated_at: '2025-03-04T11:05:00Z',
      solved_at: '2025-03-04T11:05:00Z',
      comments: [
        { author_id: 3, value: 'My printer is on fire!', created_at: '2025-03-04T08:55:00Z' },
        { author_id: 2, value: 'The vendor says it is out now.', created_at: '2025-03-04T11:05:00Z' },
      ],
    },
  },
  ticketImportResponse: {
    ticket: {
      id: 1,
      url: 'https://help.example.com/api/v2/tickets/1.json',
      external_id: null,
      via: { channel: 'api' },
      created_at: '2025-03-04T08:55:00Z',
      updated_at: '2025-03-04T11:05:00Z',
      type: null,
      subject: 'Printer on fire',
      raw_subject: 'Printer on fire',
      description: 'My printer is on fire!',
      priority: null,
      status: 'solved',
      requester_id: 3,
      submitter_id: 3,
      assignee_id: 2,
      organization_id: null,
      group_id: null,
      tags: [],
    },
  },
  createOrUpdateBody: { user: { email: 'sally@example.com', name: 'Sally Agent', role: 'agent' } },
  createOrUpdateResponse: {
    user: {
      id: 2,
      url: 'https://help.example.com/api/v2/users/2.json',
      name: 'Sally Agent',
      email: 'sally@example.com',
      role: 'agent',
      active: true,
      suspended: false,
      verified: true,
      created_at: '2026-11-30T09:10:00Z',
      updated_at: '2026-12-02T09:00:00Z',
    },
  },
};
