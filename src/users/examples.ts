/**
 * Request and response examples of the user endpoints, for the reference page at /api/v2/docs: the
 * people of the help desk on https://help.example.com (the admin, user 1; Agent Sally, user 2; the
 * customer Jane, user 3).
 */
const BASE = 'https://help.example.com/api/v2';

/** The account's first admin, as the operator's account create answers it too. */
export const exampleAdmin = {
  id: 1,
  url: `${BASE}/users/1.json`,
  name: 'Administrator',
  email: 'admin@example.com',
  role: 'admin',
  active: true,
  suspended: false,
  verified: true,
  created_at: '2026-11-30T09:00:00Z',
  updated_at: '2026-11-30T09:00:00Z',
};
const sally = { ...exampleAdmin, id: 2, url: `${BASE}/users/2.json`, name: 'Agent Sally', email: 'sally@example.com', role: 'agent', created_at: '2026-11-30T09:10:00Z', updated_at: '2026-11-30T09:10:00Z' };
const jane = { ...exampleAdmin, id: 3, url: `${BASE}/users/3.json`, name: 'Jane Customer', email: 'jane@customer.example', role: 'end-user', created_at: '2026-12-01T11:55:00Z', updated_at: '2026-12-01T11:55:00Z' };

export const userExamples = {
  createBody: { user: { name: 'Agent Sally', email: 'sally@example.com', role: 'agent', password: 'a long passphrase for sally' } },
  createResponse: { user: sally },
  listResponse: { users: [exampleAdmin, sally, jane], count: 3, next_page: null, previous_page: null },
  meResponse: { user: sally },
  showResponse: { user: jane },
  updateBody: { user: { name: 'Sally Agent', suspended: false } },
  updateResponse: { user: { ...sally, name: 'Sally Agent', updated_at: '2026-12-01T13:00:00Z' } },
  deleteResponse: { user: { ...jane, active: false, updated_at: '2026-12-01T14:00:00Z' } },
  setPasswordBody: { password: 'a new passphrase for sally' },
  changePasswordBody: { previous_password: 'a long passphrase for sally', password: 'a new passphrase for sally' },
  /** Both password calls answer 200 with an empty body, as Zendesk does. */
  passwordResponse: '',
  autocompleteResponse: { users: [sally], count: 1, next_page: null, previous_page: null },
};
