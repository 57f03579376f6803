import { join } from 'node:path';
import { IMPORT_FROM_USAGE } from '../../cli/usage.js';
import { parseArgs } from 'node:util';
import { createAttachmentsService } from '../../attachments/service.js';
import { DatabaseBlobStore, DiskBlobStore } from '../../attachments/storage.js';
import { accountFor, openStoreForCommand } from '../../cli/store.js';
import { ConfigError, type Config } from '../../config.js';
import { migrate } from './migrate.js';
import { consoleProgress } from './progress.js';
import { ZendeskSource } from './source.js';

/** `sideline import-from`: see src/imports/migrate/migrate.ts. */
export async function importFromCommand(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { email: { type: 'string' }, token: { type: 'string' }, 'dry-run': { type: 'boolean' }, subdomain: { type: 'string' } },
  });
  const url = positionals[0];
  const token = values.token ?? process.env['SIDELINE_IMPORT_TOKEN'];
  if (!url || !values.email || !token) throw new ConfigError(`import-from needs the source URL, --email and --token.\n\nUsage: sideline ${IMPORT_FROM_USAGE}`);
  let source: ZendeskSource;
  try {
    source = new ZendeskSource({
      url,
      email: values.email,
      token,
      // Said on its own line: a source that keeps limiting or failing is worth seeing while it happens.
      onRetry: ({ status, waitMs, url: asked }) =>
        void process.stderr.write(`\n${status === 429 ? 'rate limited' : status === null ? 'connection failed' : `answered ${status}`} on ${new URL(asked).pathname}; asking again in ${(waitMs / 1000).toFixed(1)} s\n`),
    });
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const store = await openStoreForCommand(config, 'import-from');
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error('stopped by a signal; run the same command again to resume'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const account = await accountFor(store, values.subdomain);
    const admin = await store.db
      .selectFrom('users')
      .select(['id', 'name', 'email'])
      .where('account_id', '=', account.id)
      .where('role', '=', 'admin')
      .where('active', '=', true)
      .orderBy('id')
      .executeTakeFirst();
    if (!admin) throw new ConfigError(`The account "${account.subdomain}" has no active admin to import as.`);
    const blobs = config.attachmentStore === 'database' ? new DatabaseBlobStore(store.db) : new DiskBlobStore(join(config.dataDir, 'attachments'));
    const progress = consoleProgress(process.stderr);
    process.stderr.write(`${values['dry-run'] ? 'Counting (dry run)' : 'Importing'} from ${source.base} into the account "${account.subdomain}"\n`);
    const summary = await migrate({
      db: store.db,
      attachments: createAttachmentsService({ db: store.db, blobs }),
      source,
      actor: { accountId: account.id, userId: admin.id, name: admin.name, email: admin.email },
      dryRun: values['dry-run'] ?? false,
      progress,
      signal: stop.signal,
    });
    if (summary.failed.length > 0) process.exitCode = 2;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await store.close();
  }
}
