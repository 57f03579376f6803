/**
 * Request and response examples of the console session endpoints, for the reference page at
 * /api/v2/docs: Agent Sally (user 2) signs in to the agent console of https://help.example.com.
 */
const session = {
  session: {
    user: { id: 2, name: 'Agent Sally', email: 'sally@example.com', role: 'agent' },
    csrf_token: 'p0Vq3mXb2C1tYk8wR5nJ7fHd',
    expires_at: '2026-12-01T20:00:00Z',
  },
};

export const sessionExamples = {
  signInBody: { email: 'sally@example.com', password: 'a long passphrase for sally' },
  signInResponse: session,
  showResponse: session,
};
