/**
 * Response examples of the agent console's data endpoints, for the reference page at /api/v2/docs:
 * Agent Sally's view of ticket 1 of the help desk on https://help.example.com (one side
 * conversation with the printer vendor, whose reply she has not read yet).
 */
import { ticketExamples } from '../tickets/examples.js';

const SC_ID = '8566255a-3b84-11ee-a3c1-2b2e8ed7d6f5';

export const consoleExamples = {
  ticketListResponse: {
    tickets: [
      {
        ...ticketExamples.showResponse.ticket,
        requester: { id: 3, name: 'Jane Customer', email: 'jane@customer.example' },
        assignee: { id: 2, name: 'Agent Sally', email: 'sally@example.com' },
        side_conversation_count: 1,
        unread_count: 1,
      },
    ],
    count: 1,
    next_page: null,
    previous_page: null,
  },
  readMarkersResponse: { read_markers: [{ side_conversation_id: SC_ID, last_read_at: '2026-12-01T12:00:00Z', unread_count: 1 }] },
  destinationsResponse: {
    slack_workspaces: [{ team_id: 'T123ABC', name: 'Acme Corp', channel_ids: ['C0123456', 'C0654321'] }],
    msteams: { connected: true, channel_ids: ['19:a1b2c3@thread.tacv2'] },
  },
  slackChannelsResponse: {
    slack_channels: [
      { id: 'C0123456', name: 'printer-vendor', is_private: false, is_member: true },
      { id: 'G0777777', name: 'escalations', is_private: true, is_member: true },
      { id: 'C0654321', name: 'general', is_private: false, is_member: false },
    ],
    complete: true,
  },
  markReadResponse: { read_marker: { side_conversation_id: SC_ID, last_read_at: '2026-12-01T12:06:00Z', unread_count: 0 } },
};
