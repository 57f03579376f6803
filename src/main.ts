#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { ensureAccountAndAdmin } from './accounts/accounts.js';
import { createApiTokensService } from './auth/api-tokens.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DataDirLockedError } from './db/lock.js';
import { migrateToLatest, openMigratedStore, openStore, startStore, type Store } from './db/store.js';
import { DatabaseBlobStore, DiskBlobStore, type BlobStore } from './attachments/storage.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BUILT_STORE_TEMPLATE, writeStoreTemplate } from './db/store-template.js';
import pino from 'pino';
import { createAttachmentsService } from './attachments/service.js';
import { startUploadSweeper } from './attachments/sweep.js';
import { createEmailChannel, fileSink, smtpSink, type MailSink } from './channels/email/deliver.js';
import { createSmtpListener } from './channels/email/smtp-listener.js';
import { Relay, type RelayLogger } from './outbox/relay.js';
import { SecretBox } from './integrations/secret-box.js';
import { createSlackChannel } from './channels/slack/deliver.js';
import { createTeamsChannel } from './channels/teams/deliver.js';
import { TeamsConnector } from './channels/teams/connector.js';
import { createWebhookChannel } from './webhooks/deliver.js';
import { WebhookSecrets } from './webhooks/secrets.js';
import { Metrics } from './ops/metrics.js';
import type { RelayObserver } from './outbox/relay-observer.js';
import { runBackup, runRestore } from './cli/backup.js';
import { startBackupSocket } from './ops/backup-socket.js';
import { RESET_PASSWORD_USAGE, resetPasswordCommand, unappliedAdminPasswordWarning } from './cli/reset-password.js';
import { CREATE_ACCOUNT_USAGE, createAccountCommand } from './cli/create-account.js';
import { IMPORT_FROM_USAGE, importFromCommand } from './imports/migrate/command.js';

/** Commands in their own modules (src/cli/), each parsing its own options. */
const COMMANDS: Record<string, (args: string[], config: Config) => Promise<void>> = {
  'reset-password': resetPasswordCommand,
  'create-account': createAccountCommand,
  'import-from': importFromCommand,
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
  return openMigratedStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
}

/** Run by the build, after bundling: makes this build's store template (see store-template.ts). */
async function buildStoreTemplate(): Promise<void> {
  if (!BUILT_STORE_TEMPLATE) throw new ConfigError('build-store-template runs from the built bundle (npm run build:server), not from sources');
  await writeStoreTemplate(BUILT_STORE_TEMPLATE, async (dataDir) => (await openMigratedStore({ dataDir })).close());
  process.stdout.write(`Wrote ${BUILT_STORE_TEMPLATE}\n`);
}

function blobStoreFor(config: Config, store: Store): BlobStore {
  return config.attachmentStore === 'database' ? new DatabaseBlobStore(store.db) : new DiskBlobStore(join(config.dataDir, 'attachments'));
}

function mailSinkFor(config: Config): MailSink {
  return config.smtpUrl ? smtpSink(config.smtpUrl) : fileSink(join(config.dataDir, 'outbox-mail'));
}

function createRelay(config: Config, store: Store, logger: RelayLogger, observer?: RelayObserver): { relay: Relay; sink: MailSink } {
  const sink = mailSinkFor(config);
  const blobs = blobStoreFor(config, store);
  const relay = new Relay({
    db: store.db,
    logger,
    ...(observer ? { observer } : {}),
    pollMs: config.relayPollMs,
    leaseMs: config.relayLeaseMs,
    concurrency: config.relayConcurrency,
    channels: {
      email: createEmailChannel({ db: store.db, blobs, sink, inboundDomain: config.inboundDomain }),
      slack: createSlackChannel({ db: store.db, blobs, box: SecretBox.fromEnv(config.encryptionKey), apiUrl: config.slackApiUrl }),
      msteams: createTeamsChannel({
        db: store.db,
        box: SecretBox.fromEnv(config.encryptionKey),
        connector: new TeamsConnector({ tokenUrl: config.teamsTokenUrl, scope: 'https://api.botframework.com/.default', allowPrivate: config.outboundAllowPrivate }),
      }),
      webhook: createWebhookChannel({
        db: store.db,
        secrets: new WebhookSecrets(store.db, SecretBox.fromEnv(config.encryptionKey)),
        allowPrivate: config.webhookAllowPrivate,
        baseUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      }),
    },
  });
  return { relay, sink };
}

function bootstrapOptions(config: Config) {
  return { adminEmail: config.adminEmail, adminPassword: config.adminPassword, supportAddress: config.supportAddress };
}

async function runRelay(config: Config): Promise<void> {
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

/** How long after the port opens the relay and the upload sweeper start (see serve). */
const BACKGROUND_START_DELAY_MS = 1_000;

async function serve(config: Config): Promise<void> {
  // The routes are built while the store starts (buildApp sends no query; its parts query on their
  // first request), then the store is migrated and the first account made before the port opens.
  const { store, ready } = startStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const migrated = ready.then(() => migrateToLatest(store.db));
  migrated.catch(() => undefined); // awaited below, once the app is built
  const metrics = config.metricsToken ? new Metrics({ db: store.db, poolStats: () => store.poolStats() }) : null;
  const app = await buildApp({
    ...(metrics && config.metricsToken ? { metrics: { metrics, token: config.metricsToken } } : {}),
    db: store.db,
    reads: store.reads,
    notifications: store.notifications,
    publicUrl: config.publicUrl,
    bodyLimitBytes: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    blobs: blobStoreFor(config, store),
    attachmentMaxBytes: config.attachmentMaxBytes,
    attachmentQuotaBytes: config.attachmentQuotaBytes,
    inbound: { domain: config.inboundDomain, secret: config.inboundEmailSecret, maxBytes: config.inboundMaxBytes, trustedAuthservId: config.inboundTrustedAuthservId },
    secretBox: SecretBox.fromEnv(config.encryptionKey),
    rateLimitPer10Minutes: config.rateLimitPer10Minutes,
    cors: config.cors,
    operatorToken: config.operatorToken,
    supportAddress: config.supportAddress,
    slackApiUrl: config.slackApiUrl,
    outboundAllowPrivate: config.outboundAllowPrivate,
    webhookAllowPrivate: config.webhookAllowPrivate,
    connections: {
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: Math.min(15_000, config.requestTimeoutMs),
      maxPerClient: config.maxConnectionsPerClient,
      maxTotal: config.maxConnections,
    },
    teams: { openIdMetadataUrl: config.teamsOpenIdMetadataUrl, issuer: config.teamsJwtIssuer },
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    },
  });
  try {
    await migrated;
  } catch (error) {
    await store.close();
    throw error;
  }
  const bootstrap = await ensureAccountAndAdmin(store.db, bootstrapOptions(config));
  if (bootstrap.generatedAdmin) {
    // Printed once, on the terminal only (not through the logger), so it never lands in log storage.
    process.stdout.write(
      `\nCreated the first admin. Sign in with:\n  email:    ${bootstrap.generatedAdmin.email}\n  password: ${bootstrap.generatedAdmin.password}\n` +
        'This password is not shown again. Set SIDELINE_ADMIN_EMAIL and SIDELINE_ADMIN_PASSWORD to choose your own.\n\n',
    );
  }
  app.log.info({ store: store.kind, location: store.location }, 'store ready');
  const adminPasswordWarning = unappliedAdminPasswordWarning(config, bootstrap);
  if (adminPasswordWarning) app.log.warn(adminPasswordWarning);

  const background = config.relayInServe ? createRelay(config, store, app.log.child({ component: 'relay' }), metrics?.relayObserver) : null;
  if (background && store.kind === 'pglite') {
    // The data directory is locked to this process: claims left in it belong to a process that died.
    const released = await background.relay.releaseAllClaims();
    if (released > 0) app.log.warn({ released }, 'released outbox claims of a previous process');
  }
  const backups = store.dumpDataDir ? await startBackupSocket(resolve(config.dataDir), store.dumpDataDir, app.log.child({ component: 'backup' })) : null;
  const listener = config.inboundSmtpPort === undefined
    ? null
    : createSmtpListener({
        db: store.db,
        attachments: createAttachmentsService({ db: store.db, blobs: blobStoreFor(config, store) }),
        inboundDomain: config.inboundDomain,
        trustedAuthservId: config.inboundTrustedAuthservId,
        maxBytes: config.inboundMaxBytes,
        maxClients: config.inboundSmtpMaxClients,
        logger: app.log.child({ component: 'smtp' }),
      });
  if (listener) {
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(config.inboundSmtpPort, config.inboundSmtpHost, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const address = (listener as unknown as { server: import('node:net').Server }).server.address();
    app.log.info({ address }, 'inbound SMTP listening');
  }

  let sweeper: { stop(): void } | null = null;
  let backgroundStart: NodeJS.Timeout | null = null;
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
      if (backgroundStart) clearTimeout(backgroundStart);
      sweeper?.stop();
      if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
      await app.close();
      await backups?.close();
      await background?.relay.stop();
      background?.sink.close();
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
  // Background work starts a moment after the port answers: its first passes (a claim, a sweep)
  // run PostgreSQL's planner cold inside the embedded store, on this thread, and the first requests
  // would wait behind them (measured: 0.3 s of the first answer).
  backgroundStart = setTimeout(() => {
    background?.relay.start();
    sweeper = startUploadSweeper(createAttachmentsService({ db: store.db, blobs: blobStoreFor(config, store) }), app.log.child({ component: 'uploads' }));
  }, BACKGROUND_START_DELAY_MS);
}

async function main(argv: string[]): Promise<void> {
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
      return serve(config);
    case 'relay':
      return runRelay(config);
    case 'backup':
      return runBackup(config, values.to);
    case 'restore':
      return runRestore(config, values.from, values.force ?? false);
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
