import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { Database } from '../db/types.js';
import { forbidden, Unauthenticated } from '../errors.js';
import { deleteExpiredSessions, deleteSession, findSessionWithUser, insertSession, touchSession, type SessionWithUser } from './repo.js';

/** A signed-in console session, as the auth hook and the session routes see it. */
export interface ConsoleSession {
  id: number;
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

interface CachedSession extends ConsoleSession {
  credentialsVersion: number;
  lastSeenAt: number;
  /** When the session and its user were last read from the store. */
  checkedAt: number;
}

export interface ConsoleSessionOptions {
  /** A session unused for this long is over (12 h). */
  idleMs?: number;
  /** last_seen_at is written at most this often per session, not on every request (1 min). */
  touchEveryMs?: number;
  /** A cached session and its user are read again after this long (1 s), as the Authenticator does. */
  recheckMs?: number;
  maxCached?: number;
  /** The clock (tests move it). */
  now?: () => number;
}

export const invalidCredentials = () => new Unauthenticated('InvalidCredentials', 'Wrong email or password.');
export const endUserRefused = () => forbidden('End-users cannot sign in to the agent console.');
export const csrfRefused = () => forbidden('Missing or wrong X-CSRF-Token.');

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Server-side sessions of the agent console. The browser holds a random token in an HttpOnly
 * cookie; the store holds its hash, the user, a CSRF token and the user's credentials_version at
 * sign-in. A session ends when it is signed out, unused for `idleMs`, or its user is deactivated
 * or changes password (credentials_version moves on).
 *
 * The console sends many requests: a verified session is kept in memory and read again at most
 * once per `recheckMs` (so a sign-out or password change made by another process is seen within
 * that), and its sliding expiry is written at most once per `touchEveryMs`.
 */
export class ConsoleSessions {
  readonly #db: Kysely<Database>;
  readonly #authenticator: Authenticator;
  readonly #idleMs: number;
  readonly #touchEveryMs: number;
  readonly #recheckMs: number;
  readonly #maxCached: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CachedSession>();
  readonly #loading = new Map<string, Promise<CachedSession | null>>();

  constructor(db: Kysely<Database>, authenticator: Authenticator, options: ConsoleSessionOptions = {}) {
    this.#db = db;
    this.#authenticator = authenticator;
    this.#idleMs = options.idleMs ?? 12 * 60 * 60 * 1000;
    this.#touchEveryMs = options.touchEveryMs ?? 60_000;
    this.#recheckMs = options.recheckMs ?? 1_000;
    this.#maxCached = options.maxCached ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Checks the password and opens a session; the token goes into the cookie and nowhere else. */
  async signIn(accountId: number, email: string, password: string, clientAddress?: string): Promise<{ token: string; session: ConsoleSession }> {
    const verified = await this.#authenticator.checkPassword(accountId, email, password, clientAddress);
    if (!verified) throw invalidCredentials();
    if (verified.principal.role === 'end-user') throw endUserRefused();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = this.#now();
    const expiresAt = new Date(now + this.#idleMs);
    await deleteExpiredSessions(this.#db, new Date(now));
    const id = await insertSession(this.#db, {
      account_id: accountId,
      user_id: verified.principal.userId,
      token_hash: hashToken(token),
      csrf_token: csrfToken,
      credentials_version: verified.credentialsVersion,
      last_seen_at: new Date(now),
      expires_at: expiresAt,
    });
    return { token, session: { id, principal: verified.principal, csrfToken, expiresAt } };
  }

  /** The live session of a cookie's token in this account, or null. */
  async authenticate(accountId: number, token: string | undefined): Promise<ConsoleSession | null> {
    if (!token || !TOKEN_PATTERN.test(token)) return null;
    const key = hashToken(token);
    const now = this.#now();
    let session: CachedSession | null | undefined = this.#cache.get(key);
    if (!session || now - session.checkedAt >= this.#recheckMs) session = await this.#load(key);
    if (!session || session.principal.accountId !== accountId) return null;
    if (now >= session.lastSeenAt + this.#idleMs) {
      this.#cache.delete(key);
      await deleteSession(this.#db, session.id);
      return null;
    }
    if (now - session.lastSeenAt >= this.#touchEveryMs) {
      // Set before the write so concurrent requests do not all write.
      session.lastSeenAt = now;
      session.expiresAt = new Date(now + this.#idleMs);
      await touchSession(this.#db, session.id, new Date(now), session.expiresAt);
    }
    return session;
  }

  /** Does the request's X-CSRF-Token header match the session's (constant time)? */
  csrfMatches(session: ConsoleSession, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const given = Buffer.from(header, 'utf8');
    const expected = Buffer.from(session.csrfToken, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  async signOut(session: ConsoleSession): Promise<void> {
    for (const [key, cached] of this.#cache) if (cached.id === session.id) this.#cache.delete(key);
    await deleteSession(this.#db, session.id);
  }

  /** A user's credentials changed through this process: its sessions are re-read on their next request. */
  forgetUser(accountId: number, userId: number): void {
    for (const [key, cached] of this.#cache) {
      if (cached.principal.accountId === accountId && cached.principal.userId === userId) this.#cache.delete(key);
    }
  }

  /** One read per token at a time, however many requests arrive with it at once. */
  #load(key: string): Promise<CachedSession | null> {
    let pending = this.#loading.get(key);
    if (!pending) {
      pending = findSessionWithUser(this.#db, key)
        .then((row) => {
          const session = row ? this.#validSession(row) : null;
          if (session) this.#remember(key, session);
          else this.#cache.delete(key);
          return session;
        })
        .finally(() => this.#loading.delete(key));
      this.#loading.set(key, pending);
    }
    return pending;
  }

  #validSession(row: SessionWithUser): CachedSession | null {
    if (!row.active || row.role === 'end-user' || row.user_credentials_version !== row.credentials_version) return null;
    return {
      id: row.id,
      principal: { accountId: row.account_id, userId: row.user_id, name: row.name, email: row.email, role: row.role },
      csrfToken: row.csrf_token,
      expiresAt: row.expires_at,
      credentialsVersion: row.credentials_version,
      lastSeenAt: row.last_seen_at.getTime(),
      checkedAt: this.#now(),
    };
  }

  #remember(key: string, session: CachedSession): void {
    this.#cache.delete(key);
    if (this.#cache.size >= this.#maxCached) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, session);
  }
}
