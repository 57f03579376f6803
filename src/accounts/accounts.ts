import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { generatePassword, hashPassword } from '../auth/credentials.js';

/**
 * Which account a request speaks to: the first label of the Host (`acme.example.com` → `acme`),
 * as Zendesk uses subdomains, else the default (first) account. Accounts change rarely, so the
 * map is cached briefly in memory.
 */
export class AccountResolver {
  readonly #db: Kysely<Database>;
  #bySubdomain = new Map<string, number>();
  #defaultId: number | null = null;
  #loadedAt = 0;
  #loading: Promise<void> | null = null;

  constructor(db: Kysely<Database>, private readonly ttlMs = 30_000) {
    this.#db = db;
  }

  async resolve(host: string | undefined): Promise<number | null> {
    if (Date.now() - this.#loadedAt > this.ttlMs) await this.#reload();
    const label = (host ?? '').split(':')[0]!.split('.')[0]!.toLowerCase();
    const known = this.#bySubdomain.get(label);
    if (known !== undefined) return known;
    // An account created since the last load is seen within a second, not after the whole TTL.
    if (Date.now() - this.#loadedAt > 1_000) {
      await this.#reload();
      return this.#bySubdomain.get(label) ?? this.#defaultId;
    }
    return this.#defaultId;
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
