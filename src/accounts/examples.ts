/**
 * Request and response examples of the operator's account endpoint, for the reference page at
 * /api/v2/docs: the operator creates the "help" account (https://help.example.com) with no password
 * in the body, so the answer carries the generated one, once.
 */
import { exampleAdmin } from '../users/examples.js';

export const accountExamples = {
  createBody: { account: { subdomain: 'help', name: 'Example Help Desk', admin_email: 'admin@example.com' } },
  createResponse: {
    account: { id: 1, subdomain: 'help', name: 'Example Help Desk', created_at: '2026-11-30T09:00:00Z' },
    admin: exampleAdmin,
    admin_password: 'hT3v9QmZr8LwXc2NpKd5sYfA',
  },
};
