import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { DataDirLockedError } from '../db/lock.js';
import type { EmbeddedStart } from '../db/embedded-start.js';
import { migrateToLatest, openMigratedStore, openStore, startStore, type Store } from '../db/store.js';
import { BUILT_STORE_TEMPLATE, writeStoreTemplate } from '../db/store-template.js';
import { CREATE_ACCOUNT_USAGE, IMPORT_FROM_USAGE, RESET_PASSWORD_USAGE } from './usage.js';

// Everything else is imported where a command needs it (`await import(...)`): a chunk of its own in
// the bundle, so `serve` starts the store first and loads the app while PGlite compiles.

/** Commands in their own modules, each parsing its own options (loaded only when run). */
const COMMANDS: Record<string, (args: string[], config: Config) => Promise<void>> = {
  'reset-password': async (args, config) => (await import('./reset-password.js')).resetPasswordCommand(args, config),
  'create-account': async (args, config) => (await import('./create-account.js')).createAccountCommand(args, config),
  'import-from': async (args, config) => (await import('../imports/migrate/command.js')).importFromCommand(args, config),
};

const USAGE = `Usage: sideline <command>

Commands:
  serve                          run the API (default)
  relay                          run only the outbox relay (any number may share one PostgreSQL)
  migrate                        apply database migrations and exit
  create-token --email EMAIL [--description TEXT]
                                 create an API token for an agent or admin; prints it once
  backup --to FILE               copy the embedded store (asks the running server, or opens it)
  restore --from FILE [--force]  restore the embedded store into DATA_DIR (server stopped)
  build-store-template           (run by the build) the empty store a new DATA_DIR is copied from
  init-store                     make the embedded store in DATA_DIR if there is none (npm install runs it)
  ${RESET_PASSWORD_USAGE}
  ${CREATE_ACCOUNT_USAGE}
  ${IMPORT_FROM_USAGE}

Configuration comes from the environment; see README.md.`;

function openConfiguredStore(config: Config): Promise<Store> {
  return openMigratedStore({ databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, dataDir: config.dataDir });
}

/** Run by the build, after bundling: makes this build's store template (see store-template.ts). */
async function buildStoreTemplate(): Promise<void> {
  if (!BUILT_STORE_TEMPLATE) throw new ConfigError('build-store-template runs from the built bundle (npm run build:server), not from sources');
  await writeStoreTemplate(BUILT_STORE_TEMPLATE, async (dataDir) => (await openMigratedStore({ dataDir })).close());
  process.stdout.write(`Wrote ${BUILT_STORE_TEMPLATE}\n`);
}

async function runRelay(config: Config): Promise<void> {
  const [{ default: pino }, { createRelay }] = await Promise.all([import('pino'), import('../runtime.js')]);
  const logger = pino({ level: config.logLevel });
  const store = await openConfiguredStore(config);
  const { relay, sink } = createRelay(config, store, logger);
  relay.start();
  logger.info({ relay: relay.id, store: store.kind, smtp: config.smtpUrl ? 'smtp' : 'files' }, 'relay running');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await relay.stop();
    sink.close();
    await store.close();
    logger.info('relay stopped cleanly');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

/** What main.ts started before this module loaded: the embedded store for `serve`, or why it could not. */
export type EarlyStart = EmbeddedStart | { error: unknown } | undefined;

async function serve(config: Config, early: EarlyStart): Promise<void> {
  if (early && 'error' in early) throw early.error;
  const starting = startStore({ databaseUrl: config.databaseUrl, poolSize: config.databasePoolSize, dataDir: config.dataDir, started: early });
  const [{ buildRuntime }, { unappliedAdminPasswordWarning }] = await Promise.all([import('../runtime.js'), import('./reset-password.js')]);
  const runtime = await buildRuntime(config, starting);
  const { app, bootstrap } = runtime;
  if (bootstrap.generatedAdmin) {
    // Printed once, on the terminal only (not through the logger), so it never lands in log storage.
    process.stdout.write(
      `\nCreated the first admin. Sign in with:\n  email:    ${bootstrap.generatedAdmin.email}\n  password: ${bootstrap.generatedAdmin.password}\n` +
        'This password is not shown again. Set SIDELINE_ADMIN_EMAIL and SIDELINE_ADMIN_PASSWORD to choose your own.\n\n',
    );
  }
  const adminPasswordWarning = unappliedAdminPasswordWarning(config, bootstrap);
  if (adminPasswordWarning) app.log.warn(adminPasswordWarning);

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
      await runtime.close();
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
    await runtime.listen();
  } catch (error) {
    app.log.error({ err: error }, 'could not listen');
    await runtime.store.close();
    process.exit(1);
  }
}

async function main(argv: string[], early: EarlyStart): Promise<void> {
  const own = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? COMMANDS[argv[0]] : undefined;
  if (own && !argv.includes('--help') && !argv.includes('-h')) return own(argv.slice(1), loadConfig());
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      description: { type: 'string' },
      to: { type: 'string' },
      from: { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0] ?? 'serve';
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return serve(config, early);
    case 'relay':
      return runRelay(config);
    case 'backup':
      return (await import('./backup.js')).runBackup(config, values.to);
    case 'restore':
      return (await import('./backup.js')).runRestore(config, values.from, values.force ?? false);
    case 'build-store-template':
      return buildStoreTemplate();
    case 'init-store': {
      // npm install makes the store, so that the first `npm start` opens it instead of making it.
      if (config.databaseUrl || existsSync(join(resolve(config.dataDir), 'pgdata'))) return;
      await (await openConfiguredStore(config)).close();
      process.stdout.write(`Made the embedded store in ${resolve(config.dataDir)}\n`);
      return;
    }
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
      const [{ ensureAccountAndAdmin }, { createApiTokensService }, { bootstrapOptions }] = await Promise.all([
        import('../accounts/accounts.js'),
        import('../auth/api-tokens.js'),
        import('../runtime.js'),
      ]);
      const store = await openConfiguredStore(config);
      try {
        const { accountId } = await ensureAccountAndAdmin(store.db, bootstrapOptions(config));
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

/** Runs the command of `argv`; a failure is reported on stderr (the stack only when unexpected) and exits 1. */
export function runCli(argv: string[], early: EarlyStart): Promise<void> {
  return main(argv, early).catch((error: unknown) => {
    if (error instanceof ConfigError || error instanceof DataDirLockedError) {
      process.stderr.write(`sideline: ${error.message}\n`);
    } else if (error && typeof error === 'object' && 'statusCode' in error && 'body' in error) {
      process.stderr.write(`sideline: ${JSON.stringify((error as { body: unknown }).body)}\n`);
    } else {
      process.stderr.write(`sideline: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exit(1);
  });
}
