import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, UserRole } from '../db/types.js';
import { hashApiToken, verifyPassword } from './credentials.js';

export interface Principal {
  accountId: number;
  userId: number;
  name: string;
  email: string | null;
  role: UserRole;
}

interface CachedCredential {
  accountId: number;
  userId: number;
  credentialsVersion: number;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  /** How long a verified header is trusted without re-running the slow hash. */
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  /** Turn the cache off (benchmarks measure both ways). */
  cacheEnabled?: boolean;
}

/**
 * Checks `Authorization` headers. Zendesk clients send Basic credentials on every request, and a
 * slow password hash per request would cap throughput at a few dozen requests a second; so a
 * header verified once is remembered for a short while, keyed by an HMAC of the header (the key
 * lives only in this process's memory, so the cache holds nothing an attacker could reuse) and
 * tied to the user's credentials_version, which every password or token change bumps.
 */
export class Authenticator {
  readonly #db: Kysely<Database>;
  readonly #cacheKey = randomBytes(32);
  readonly #cache = new Map<string, CachedCredential>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #cacheEnabled: boolean;

  constructor(db: Kysely<Database>, options: AuthenticatorOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.cacheTtlMs ?? 60_000;
    this.#maxEntries = options.cacheMaxEntries ?? 10_000;
    this.#cacheEnabled = options.cacheEnabled ?? true;
  }

  /** The principal for a header, or null when the credentials are missing or wrong. */
  async authenticate(accountId: number, header: string | undefined): Promise<Principal | null> {
    if (!header || header.length > 4096) return null;
    const cacheKey = createHmac('sha256', this.#cacheKey).update(`${accountId}\n${header}`).digest('base64url');
    const cached = this.#cacheEnabled ? this.#cache.get(cacheKey) : undefined;
    if (cached && cached.expiresAt > Date.now()) {
      const principal = await this.#loadActiveUser(cached.accountId, cached.userId, cached.credentialsVersion);
      if (principal) return principal;
    }
    if (cached) this.#cache.delete(cacheKey);

    const verified = await this.#verify(accountId, header);
    if (!verified) return null;
    if (this.#cacheEnabled) {
      if (this.#cache.size >= this.#maxEntries) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(cacheKey, {
        accountId,
        userId: verified.principal.userId,
        credentialsVersion: verified.credentialsVersion,
        expiresAt: Date.now() + this.#ttlMs,
      });
    }
    return verified.principal;
  }

  async #loadActiveUser(accountId: number, userId: number, credentialsVersion: number): Promise<Principal | null> {
    const user = await this.#db
      .selectFrom('users')
      .select(['id', 'account_id', 'name', 'email', 'role', 'credentials_version', 'active'])
      .where('account_id', '=', accountId)
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user || !user.active || user.credentials_version !== credentialsVersion) return null;
    return { accountId: user.account_id, userId: user.id, name: user.name, email: user.email, role: user.role };
  }

  async #verify(accountId: number, header: string): Promise<{ principal: Principal; credentialsVersion: number } | null> {
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
    return this.#verifyPassword(accountId, login, secret);
  }

  async #verifyPassword(accountId: number, email: string, password: string) {
    const user = await this.#db
      .selectFrom('users')
      .select(['id', 'account_id', 'name', 'email', 'role', 'password_hash', 'credentials_version', 'active'])
      .where('account_id', '=', accountId)
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    const ok = await verifyPassword(password, user?.password_hash ?? null);
    if (!ok || !user || !user.active) return null;
    return {
      principal: { accountId: user.account_id, userId: user.id, name: user.name, email: user.email, role: user.role },
      credentialsVersion: user.credentials_version,
    };
  }

  async #verifyToken(accountId: number, email: string | null, token: string) {
    let query = this.#db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['users.id', 'users.account_id', 'users.name', 'users.email', 'users.role', 'users.credentials_version', 'users.active'])
      .where('api_tokens.account_id', '=', accountId)
      .where('api_tokens.token_hash', '=', hashApiToken(token));
    if (email !== null) query = query.where((eb) => eb(eb.fn('lower', ['users.email']), '=', email.toLowerCase()));
    const user = await query.executeTakeFirst();
    if (!user || !user.active) return null;
    return {
      principal: { accountId: user.account_id, userId: user.id, name: user.name, email: user.email, role: user.role },
      credentialsVersion: user.credentials_version,
    };
  }
}
