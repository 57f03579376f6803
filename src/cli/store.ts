import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import { DataDirLockedError } from '../db/lock.js';
import { openMigratedStore, type Store } from '../db/store.js';

/**
 * The store for an operator command. PostgreSQL is shared, so the command works while servers run
 * (they see its change within a second); the embedded store belongs to one process, so there the
 * command needs the server stopped, and says so.
 */
export async function openStoreForCommand(config: Config, command: string): Promise<Store> {
  try {
    return await openMigratedStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      throw new ConfigError(
        `${error.message}\n${command} on the embedded store needs the server stopped: stop it, run ${command}, start it again.`,
      );
    }
    throw error;
  }
}

/** The account a command names by --subdomain, else the first one. */
export async function accountFor(store: Store, subdomain: string | undefined): Promise<{ id: number; subdomain: string }> {
  let query = store.db.selectFrom('accounts').select(['id', 'subdomain']).orderBy('id').limit(1);
  if (subdomain !== undefined) query = query.where('subdomain', '=', subdomain.trim().toLowerCase());
  const account = await query.executeTakeFirst();
  if (!account) throw new ConfigError(subdomain === undefined ? 'There is no account yet: run `sideline serve` once first.' : `No account has the subdomain "${subdomain}".`);
  return account;
}
