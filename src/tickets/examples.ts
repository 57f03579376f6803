/**
 * Request and response examples of the ticket endpoints, for the reference page at /api/v2/docs: the
 * same help desk on https://help.example.com as the side conversation examples (ticket 1, asked by
 * the customer Jane, user 3, worked by Agent Sally, user 2, in the Support group, 360001).
 */
const BASE = 'https://help.example.com/api/v2';

const ticket = {
  id: 1,
  url: `${BASE}/tickets/1.json`,
  external_id: null,
  via: { channel: 'api' },
  created_at: '2026-12-01T11:55:00Z',
  updated_at: '2026-12-01T11:55:00Z',
  type: null,
  subject: 'My printer is on fire!',
  raw_subject: 'My printer is on fire!',
  description: 'The smoke is very colorful.',
  priority: 'urgent',
  status: 'open',
  requester_id: 3,
  submitter_id: 2,
  assignee_id: 2,
  organization_id: null,
  group_id: 360001,
  tags: [],
};

const secondTicket = {
  ...ticket,
  id: 2,
  url: `${BASE}/tickets/2.json`,
  created_at: '2026-12-01T12:30:00Z',
  updated_at: '2026-12-01T12:30:00Z',
  subject: 'Toner cartridge not recognised',
  raw_subject: 'Toner cartridge not recognised',
  description: 'The new cartridge shows error E-21.',
  priority: 'normal',
  status: 'new',
  assignee_id: null,
};

const firstComment = {
  id: 10001,
  type: 'Comment',
  author_id: 3,
  body: 'The smoke is very colorful.',
  html_body: '<p>The smoke is very colorful.</p>',
  plain_body: 'The smoke is very colorful.',
  public: true,
  attachments: [],
  via: { channel: 'api' },
  created_at: '2026-12-01T11:55:00Z',
};

const internalNote = {
  ...firstComment,
  id: 10002,
  author_id: 2,
  body: 'Asked the printer vendor in a side conversation.',
  html_body: '<p>Asked the printer vendor in a side conversation.</p>',
  plain_body: 'Asked the printer vendor in a side conversation.',
  public: false,
  created_at: '2026-12-01T12:15:00Z',
};

export const ticketExamples = {
  createBody: {
    ticket: {
      subject: 'My printer is on fire!',
      comment: { body: 'The smoke is very colorful.' },
      requester_id: 3,
      group_id: 360001,
      assignee_id: 2,
      priority: 'urgent',
    },
  },
  createResponse: { ticket: { ...ticket, status: 'open' } },
  listResponse: { tickets: [ticket, secondTicket], count: 2, next_page: null, previous_page: null },
  showResponse: { ticket },
  updateBody: { ticket: { status: 'pending', comment: { body: 'Asked the printer vendor in a side conversation.', public: false } } },
  updateResponse: { ticket: { ...ticket, status: 'pending', updated_at: '2026-12-01T12:15:00Z' } },
  commentsResponse: { comments: [firstComment, internalNote], count: 2, next_page: null, previous_page: null },
};
