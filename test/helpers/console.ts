/** Signing in to the agent console in tests: the session cookie and CSRF token of a user. */
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp, TestUser } from './app.js';

export interface SessionBody {
  session: { user: { id: number; name: string; email: string | null; role: string }; csrf_token: string; expires_at: string };
}

export interface SignedIn {
  /** The `Cookie` request header carrying the session. */
  cookie: string;
  csrf: string;
  body: SessionBody;
  response: LightMyRequestResponse;
}

export function signInRequest(t: TestApp, email: string, password: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.request({ method: 'POST', url: '/api/v2/sideline/session', auth: null, headers, payload: { email, password } });
}

export async function signIn(t: TestApp, user: Pick<TestUser, 'email' | 'password'>): Promise<SignedIn> {
  const response = await signInRequest(t, user.email, user.password);
  assert.equal(response.statusCode, 201, response.body);
  const setCookie = response.headers['set-cookie'];
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  assert.ok(first, 'no Set-Cookie');
  const cookie = first.split(';')[0]!;
  const body = response.json<SessionBody>();
  return { cookie, csrf: body.session.csrf_token, body, response };
}
