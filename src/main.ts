#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ensureAccountAndAdmin } from './accounts/accounts.js';
import { createApiTokensService } from './auth/api-tokens.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DataDirLockedError } from './db/lock.js';
import { migrateToLatest, openStore, type Store } from './db/store.js';
import { DatabaseBlobStore, DiskBlobStore, type BlobStore } from './attachments/storage.js';
import { join } from 'node:path';

const USAGE = `Usage: sideline <command>

Commands:
  serve                          run the API (default)
  migrate                        apply database migrations and exit
  create-token --email EMAIL [--description TEXT]
                                 create an API token for an agent or admin; prints it once

Configuration comes from the environment; see README.md.`;

async function openMigratedStore(config: Config): Promise<Store> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(store.db);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

function blobStoreFor(config: Config, store: Store): BlobStore {
  return config.attachmentStore === 'database' ? new DatabaseBlobStore(store.db) : new DiskBlobStore(join(config.dataDir, 'attachments'));
}

async function serve(config: Config): Promise<void> {
  const store = await openMigratedStore(config);
  const bootstrap = await ensureAccountAndAdmin(store.db, { adminEmail: config.adminEmail, adminPassword: config.adminPassword });
  if (bootstrap.generatedAdmin) {
    // Printed once, on the terminal only (not through the logger), so it never lands in log storage.
    process.stdout.write(
      `\nCreated the first admin. Sign in with:\n  email:    ${bootstrap.generatedAdmin.email}\n  password: ${bootstrap.generatedAdmin.password}\n` +
        'This password is not shown again. Set SIDELINE_ADMIN_EMAIL and SIDELINE_ADMIN_PASSWORD to choose your own.\n\n',
    );
  }
  const app = await buildApp({
    db: store.db,
    publicUrl: config.publicUrl,
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    blobs: blobStoreFor(config, store),
    attachmentMaxBytes: config.attachmentMaxBytes,
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
  });
  app.log.info({ store: store.kind, location: store.location }, 'store ready');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'draining in-flight requests');
    const force = setTimeout(() => {
      app.log.error('shutdown took longer than 15s; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    try {
      await app.close();
      await store.close();
      app.log.info('stopped cleanly');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    app.log.error({ err: error }, 'could not listen');
    await store.close();
    process.exit(1);
  }
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { email: { type: 'string' }, description: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0] ?? 'serve';
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate': {
      const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await migrateToLatest(store.db);
        process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Already up to date.\n');
      } finally {
        await store.close();
      }
      return;
    }
    case 'create-token': {
      if (!values.email) throw new ConfigError('create-token needs --email of an agent or admin');
      const store = await openMigratedStore(config);
      try {
        const { accountId } = await ensureAccountAndAdmin(store.db, { adminEmail: config.adminEmail, adminPassword: config.adminPassword });
        const created = await createApiTokensService({ db: store.db }).createToken(accountId, { email: values.email }, values.description ?? null);
        process.stdout.write(
          `${created.token}\nUse it as: curl -u '${values.email}/token:${created.token}' ...\nIt is stored hashed and will not be shown again.\n`,
        );
      } finally {
        await store.close();
      }
      return;
    }
    default:
      throw new ConfigError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirLockedError) {
    process.stderr.write(`sideline: ${error.message}\n`);
  } else if (error && typeof error === 'object' && 'statusCode' in error && 'body' in error) {
    process.stderr.write(`sideline: ${JSON.stringify((error as { body: unknown }).body)}\n`);
  } else {
    process.stderr.write(`sideline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exit(1);
});
