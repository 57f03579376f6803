/**
 * Request and response examples of the API token endpoints, for the reference page at /api/v2/docs:
 * a token for the help desk's Slack bridge on https://help.example.com, made by the admin (user 1).
 * The token itself is shown once, in the create answer; lists show only its last four characters.
 */
const BASE = 'https://help.example.com/api/v2';

const TOKEN = 'Q3hWb2tWcHRkN1lqN2VtRkZ3dGZrd3pQbW9ZcUhxZ0g';
const token = {
  id: 9001,
  url: `${BASE}/api_tokens/9001.json`,
  user_id: 1,
  description: 'Slack bridge',
  token_hint: TOKEN.slice(-4),
  active: true,
  created_at: '2026-12-01T10:00:00Z',
};

export const apiTokenExamples = {
  createBody: { api_token: { description: 'Slack bridge' } },
  createResponse: { api_token: { ...token, token: TOKEN } },
  listResponse: {
    api_tokens: [token, { ...token, id: 9002, url: `${BASE}/api_tokens/9002.json`, user_id: 2, description: null, token_hint: 'x7Rk', created_at: '2026-12-01T10:30:00Z' }],
    count: 2,
    next_page: null,
    previous_page: null,
  },
};
