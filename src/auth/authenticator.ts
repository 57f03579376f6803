import { hash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, UserRole } from '../db/types.js';
import { hashApiToken, verifyPassword } from './credentials.js';
import { LoginThrottle } from './login-throttle.js';

export interface Principal {
  accountId: number;
  userId: number;
  name: string;
  email: string | null;
  role: UserRole;
}

export interface Verified {
  principal: Principal;
  credentialsVersion: number;
}

interface CachedCredential extends Verified {
  /** Until then the header is trusted without re-running the slow hash. */
  expiresAt: number;
  /** When the user row was last read: active, role and credentials_version as of then. */
  checkedAt: number;
  /** A re-check of the user row in flight, shared by every request that needs it. */
  recheck: Promise<Verified | null> | null;
  /** A re-verification of the header started shortly before expiry, so the entry never lapses under load. */
  refreshing: boolean;
}

export interface AuthenticatorOptions {
  /** How long a verified header is trusted without re-running the slow hash. */
  cacheTtlMs?: number;
  /**
   * How long a cached user (active, role, credentials_version) is trusted before it is read again.
   * A change made through this process takes effect at once (see forgetUser); one made through
   * another process on the same database, within this long.
   */
  userRecheckMs?: number;
  cacheMaxEntries?: number;
  /** Turn the cache off (benchmarks measure both ways). */
  cacheEnabled?: boolean;
  /** Failed-password lockout and the queue of password checks (a default one when unset). */
  throttle?: LoginThrottle;
}

/** Where a verification comes from: the caller's address, and whether the header verified before. */
interface VerifyContext {
  clientAddress: string | undefined;
  known: boolean;
}

/**
 * Checks `Authorization` headers. Zendesk clients send Basic credentials on every request, and a
 * slow password hash per request would cap throughput at a few dozen requests a second; so a
 * header verified once is remembered for a short while, keyed by a SHA-256 of a secret and the
 * header (the secret lives only in this process's memory, so the cache holds nothing an attacker
 * could reuse) and tied to the user's credentials_version, which every password or token change
 * bumps. A keyed hash, not an HMAC: the key never leaves the process, so there is nothing to
 * extend, and a one-shot hash costs a Show a fifth of what an HMAC did.
 *
 * Under load the cache must not stampede: every request that misses on the same header waits for
 * one verification, the user row is re-read by one request at a time, and a busy entry is
 * re-verified in the background shortly before it expires instead of by every request after.
 */
export class Authenticator {
  readonly #db: Kysely<Database>;
  /** Prefixed to what is hashed into a cache key: known only to this process. */
  readonly #cacheKey = randomBytes(32).toString('base64');
  readonly #cache = new Map<string, CachedCredential>();
  #verifying = new Map<string, Promise<Verified | null>>();
  /** Counts forgetUser calls: a verification that straddles one is not cached. */
  #forgets = 0;
  readonly #ttlMs: number;
  readonly #recheckMs: number;
  readonly #maxEntries: number;
  readonly #cacheEnabled: boolean;
  readonly #throttle: LoginThrottle;

  constructor(db: Kysely<Database>, options: AuthenticatorOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#recheckMs = Math.min(options.userRecheckMs ?? 1_000, this.#ttlMs);
    this.#maxEntries = options.cacheMaxEntries ?? 10_000;
    this.#cacheEnabled = options.cacheEnabled ?? true;
    this.#throttle = options.throttle ?? new LoginThrottle();
  }

  /**
   * The principal for a header, or null when the credentials are missing or wrong. A password
   * check refused by the login throttle throws its RateLimited.
   */
  async authenticate(accountId: number, header: string | undefined, clientAddress?: string): Promise<Principal | null> {
    if (!header || header.length > 4096) return null;
    const fresh: VerifyContext = { clientAddress, known: false };
    if (!this.#cacheEnabled) return (await this.#verify(accountId, header, fresh))?.principal ?? null;
    const cacheKey = hash('sha256', `${this.#cacheKey}\n${accountId}\n${header}`, 'base64url');
    const cached = this.#cache.get(cacheKey);
    const now = Date.now();
    if (cached && cached.expiresAt > now) {
      if (cached.expiresAt - now < this.#ttlMs / 10 && !cached.refreshing) this.#refresh(cacheKey, cached, accountId, header, clientAddress);
      if (now - cached.checkedAt < this.#recheckMs) return cached.principal;
      cached.recheck ??= this.#loadActiveUser(accountId, cached.principal.userId, cached.credentialsVersion).finally(() => {
        cached.recheck = null;
      });
      const current = await cached.recheck;
      if (current) {
        cached.principal = current.principal;
        cached.checkedAt = Date.now();
        return current.principal;
      }
    }
    if (cached && this.#cache.get(cacheKey) === cached) this.#cache.delete(cacheKey);

    const verified = await this.#verifyOnce(cacheKey, accountId, header, fresh);
    return verified?.principal ?? null;
  }

  /**
   * Drops every cached header of a user whose credentials changed through this process. A
   * verification already in flight may have read the user before the change: later requests do
   * not join it, and its result is not cached.
   */
  forgetUser(accountId: number, userId: number): void {
    this.#forgets += 1;
    this.#verifying = new Map();
    for (const [key, entry] of this.#cache) {
      if (entry.principal.accountId === accountId && entry.principal.userId === userId) this.#cache.delete(key);
    }
  }

  /** One verification per header at a time; its result is cached for the next requests. */
  #verifyOnce(cacheKey: string, accountId: number, header: string, context: VerifyContext): Promise<Verified | null> {
    const verifying = this.#verifying;
    let pending = verifying.get(cacheKey);
    if (!pending) {
      const forgets = this.#forgets;
      pending = this.#verify(accountId, header, context)
        .then((verified) => {
          if (verified && forgets === this.#forgets) this.#remember(cacheKey, verified);
          return verified;
        })
        .finally(() => {
          if (verifying.get(cacheKey) === pending) verifying.delete(cacheKey);
        });
      verifying.set(cacheKey, pending);
    }
    return pending;
  }

  #refresh(cacheKey: string, entry: CachedCredential, accountId: number, header: string, clientAddress: string | undefined): void {
    entry.refreshing = true;
    this.#verifyOnce(cacheKey, accountId, header, { clientAddress, known: true })
      .then((verified) => {
        // Wrong now (password changed elsewhere): the old entry must not outlive its check.
        if (!verified && this.#cache.get(cacheKey) === entry) this.#cache.delete(cacheKey);
      })
      .catch(() => {
        entry.refreshing = false; // the database was unreachable: a later request tries again
      });
  }

  #remember(cacheKey: string, verified: Verified): void {
    this.#cache.delete(cacheKey);
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    const now = Date.now();
    this.#cache.set(cacheKey, { ...verified, expiresAt: now + this.#ttlMs, checkedAt: now, recheck: null, refreshing: false });
  }

  async #loadActiveUser(accountId: number, userId: number, credentialsVersion: number): Promise<Verified | null> {
    const user = await this.#db
      .selectFrom('users')
      .select(['id', 'account_id', 'name', 'email', 'role', 'credentials_version', 'active', 'suspended'])
      .where('account_id', '=', accountId)
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user || !mayAuthenticate(user) || user.credentials_version !== credentialsVersion) return null;
    return { principal: principalOf(user), credentialsVersion };
  }

  async #verify(accountId: number, header: string, context: VerifyContext): Promise<Verified | null> {
    const [scheme, value] = header.trim().split(/\s+/, 2);
    if (!scheme || !value) return null;
    if (scheme.toLowerCase() === 'bearer') return /^[A-Za-z0-9_-]{1,200}$/.test(value) ? this.#verifyToken(accountId, null, value) : null;
    if (scheme.toLowerCase() !== 'basic') return null;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    // Credentials with control characters or broken text match nobody (and must not reach SQL).
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(decoded) || !decoded.isWellFormed()) return null;
    const colon = decoded.indexOf(':');
    if (colon <= 0) return null;
    const login = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    if (!secret) return null;
    if (login.endsWith('/token')) return this.#verifyToken(accountId, login.slice(0, -'/token'.length), secret);
    return this.#verifyPassword(accountId, login, secret, context);
  }

  /**
   * An email and password as a sign-in form sends them (the agent console), checked on the same
   * path as Basic credentials so every rule of that path (timing, throttling) covers both.
   * Null when wrong, unknown or the user is inactive.
   */
  checkPassword(accountId: number, email: string, password: string, clientAddress?: string): Promise<Verified | null> {
    return this.#verifyPassword(accountId, email, password, { clientAddress, known: false });
  }

  /**
   * The one password path (Basic email:password here; console sign-in goes through it too): the
   * throttle refuses locked emails and addresses before any work, and queues the hash. A missing,
   * suspended or deleted user costs the same hash and counts as the same failure as a wrong password.
   */
  async #verifyPassword(accountId: number, email: string, password: string, context: VerifyContext): Promise<Verified | null> {
    let verified: Verified | null = null;
    await this.#throttle.attempt({ accountId, email, clientAddress: context.clientAddress, known: context.known }, async () => {
      const user = await this.#db
        .selectFrom('users')
        .select(['id', 'account_id', 'name', 'email', 'role', 'password_hash', 'credentials_version', 'active', 'suspended'])
        .where('account_id', '=', accountId)
        .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
        .executeTakeFirst();
      const ok = await verifyPassword(password, user?.password_hash ?? null);
      if (ok && user && mayAuthenticate(user)) verified = { principal: principalOf(user), credentialsVersion: user.credentials_version };
      return verified !== null;
    });
    return verified;
  }

  async #verifyToken(accountId: number, email: string | null, token: string) {
    let query = this.#db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['users.id', 'users.account_id', 'users.name', 'users.email', 'users.role', 'users.credentials_version', 'users.active', 'users.suspended'])
      .where('api_tokens.account_id', '=', accountId)
      .where('api_tokens.token_hash', '=', hashApiToken(token));
    if (email !== null) query = query.where((eb) => eb(eb.fn('lower', ['users.email']), '=', email.toLowerCase()));
    const user = await query.executeTakeFirst();
    // Tokens are for agents and admins: one left on a user demoted to end-user no longer works.
    if (!user || !mayAuthenticate(user) || user.role === 'end-user') return null;
    return { principal: principalOf(user), credentialsVersion: user.credentials_version };
  }
}

/** Deleted (inactive) and suspended users cannot authenticate by any credential. */
function mayAuthenticate(user: { active: boolean; suspended: boolean }): boolean {
  return user.active && !user.suspended;
}

function principalOf(user: { id: number; account_id: number; name: string; email: string | null; role: UserRole }): Principal {
  return { accountId: user.account_id, userId: user.id, name: user.name, email: user.email, role: user.role };
}
