import type { ConsoleSession } from './service.js';

export function presentSession(session: ConsoleSession) {
  const { principal } = session;
  return {
    session: {
      user: { id: principal.userId, name: principal.name, email: principal.email, role: principal.role },
      csrf_token: session.csrfToken,
      expires_at: session.expiresAt.toISOString(),
    },
  };
}
