/**
 * Request and response examples of the operator's account endpoint, for the reference page at
 * /api/v2/docs: the operator creates the "help" account (https://help.example.com) with no password
 * in the body, so the answer carries the generated one, once.
 */
export const accountExamples = {
  createBody: { account: { subdomain: 'help', name: 'Example Help Desk', admin_email: 'admin@example.com' } },
  createResponse: {
    account: { id: 1, subdomain: 'help', name: 'Example Help Desk', created_at: '2026-11-30T09:00:00Z' },
    admin: {
      id: 1,
      url: 'https://help.example.com/api/v2/users/1.json',
      name: 'Admin',
      email: 'admin@example.com',
      role: 'admin',
      active: true,
      suspended: false,
      verified: true,
      created_at: '2026-11-30T09:00:00Z',
      updated_at: '2026-11-30T09:00:00Z',
    },
    admin_password: 'hT3v9QmZr8LwXc2NpKd5sYfA',
  },
};
