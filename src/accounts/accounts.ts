import { isIP } from 'node:net';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { generatePassword, hashPassword } from '../auth/credentials.js';

/** The host name of a Host header value, lowercased, without port; IPv6 literals keep their brackets. */
export function hostnameOf(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  return value.split(':', 1)[0]!.replace(/\.$/, '');
}

/** Hosts that name no account by design: a bare IP address, localhost. */
function isAddressHost(hostname: string): boolean {
  return hostname === 'localhost' || isIP(hostname.replace(/^\[|\]$/g, '')) !== 0;
}

export interface AccountResolverOptions {
  ttlMs?: number;
  /** PUBLIC_URL: its host also speaks to the first account. */
  publicUrl?: string | undefined;
}

/**
 * Which account a request speaks to: the first label of the Host (`acme.example.com` → `acme`),
 * as Zendesk uses subdomains. The first account is the default only for a bare IP address,
 * `localhost` and PUBLIC_URL's host; any other host that names no account speaks to none (null),
 * so a mistyped or forged subdomain never lands in someone else's help desk. Accounts change
 * rarely, so the map is cached briefly in memory.
 */
export class AccountResolver {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  readonly #publicHost: string | null;
  #bySubdomain = new Map<string, number>();
  #defaultId: number | null = null;
  #loadedAt = 0;
  #loading: Promise<void> | null = null;

  constructor(db: Kysely<Database>, options: AccountResolverOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 30_000;
    this.#publicHost = options.publicUrl ? hostnameOf(new URL(options.publicUrl).host) : null;
  }

  async resolve(host: string | undefined): Promise<number | null> {
    if (Date.now() - this.#loadedAt > this.#ttlMs) await this.#reload();
    const hostname = hostnameOf(host ?? '');
    if (isAddressHost(hostname) || hostname === this.#publicHost) return this.#defaultId;
    const label = hostname.split('.')[0]!;
    const known = this.#bySubdomain.get(label);
    if (known !== undefined) return known;
    // An account created since the last load is seen within a second, not after the whole TTL.
    if (Date.now() - this.#loadedAt > 1_000) {
      await this.#reload();
      return this.#bySubdomain.get(label) ?? null;
    }
    return null;
  }

  invalidate(): void {
    this.#loadedAt = 0;
  }

  async #reload(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const rows = await this.#db.selectFrom('accounts').select(['id', 'subdomain']).orderBy('id').execute();
        this.#bySubdomain = new Map(rows.map((r) => [r.subdomain.toLowerCase(), r.id]));
        this.#defaultId = rows[0]?.id ?? null;
        this.#loadedAt = Date.now();
      } finally {
        this.#loading = null;
      }
    })();
    await this.#loading;
  }
}

export interface BootstrapOptions {
  subdomain?: string;
  accountName?: string;
  supportAddress?: string;
  adminEmail?: string | undefined;
  adminPassword?: string | undefined;
}

export interface BootstrapResult {
  accountId: number;
  /** Set only when an admin was created with a generated password: show it once, then forget it. */
  generatedAdmin?: { email: string; password: string };
  createdAdminEmail?: string;
}

/**
 * The first start: one account, and an admin when the account has none. Runs under an advisory
 * lock so several processes starting together on one PostgreSQL create exactly one of each.
 */
export async function ensureAccountAndAdmin(db: Kysely<Database>, options: BootstrapOptions = {}): Promise<BootstrapResult> {
  // Every start after the first finds both, with the configured address: one statement, no lock and
  // no transaction (on the embedded store these were 6 cold round trips, 0.1 s of every start).
  const found = await db
    .selectFrom('accounts')
    .select((eb) => [
      'accounts.id',
      'accounts.support_address',
      eb
        .exists(eb.selectFrom('users').select('users.id').whereRef('users.account_id', '=', 'accounts.id').where('users.role', '=', 'admin'))
        .as('has_admin'),
    ])
    .orderBy('accounts.id')
    .limit(1)
    .executeTakeFirst();
  if (found && found.has_admin && (!options.supportAddress || found.support_address === options.supportAddress)) return { accountId: found.id };
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7355608)`.execute(trx);
    let account = await trx.selectFrom('accounts').select(['id']).orderBy('id').limit(1).executeTakeFirst();
    if (!account) {
      account = await trx
        .insertInto('accounts')
        .values({
          subdomain: options.subdomain ?? 'support',
          name: options.accountName ?? 'Sideline',
          support_address: options.supportAddress ?? 'support@sideline.localhost',
        })
        .returning(['id'])
        .executeTakeFirstOrThrow();
    }
    if (options.supportAddress) {
      // The operator's SUPPORT_ADDRESS is the first account's From address, also after a change.
      await trx
        .updateTable('accounts')
        .set({ support_address: options.supportAddress })
        .where('id', '=', account.id)
        .where('support_address', '!=', options.supportAddress)
        .execute();
    }
    const admin = await trx
      .selectFrom('users')
      .select(['id'])
      .where('account_id', '=', account.id)
      .where('role', '=', 'admin')
      .limit(1)
      .executeTakeFirst();
    if (admin) return { accountId: account.id };

    const email = options.adminEmail ?? 'admin@sideline.localhost';
    const password = options.adminPassword ?? generatePassword();
    await trx
      .insertInto('users')
      .values({
        account_id: account.id,
        name: 'Administrator',
        email,
        role: 'admin',
        password_hash: await hashPassword(password),
      })
      .execute();
    return options.adminPassword
      ? { accountId: account.id, createdAdminEmail: email }
      : { accountId: account.id, generatedAdmin: { email, password }, createdAdminEmail: email };
  });
}
