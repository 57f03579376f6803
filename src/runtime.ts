/**
 * The one wiring of a Sideline process, from its configuration: the HTTP app, the relay with its
 * channels, the inbound SMTP listener, the backup socket and the upload sweeper. `sideline serve`
 * and `sideline relay` (main.ts) build from here, and so do the tests' helpers (appOptionsFor), so
 * what the tests run is what users run.
 *
 * main.ts loads this module only once the store has started opening (a dynamic import, a chunk of
 * its own in the bundle): PGlite's WebAssembly compiles on other threads while this code loads.
 */
import { join, resolve } from 'node:path';
import type { SMTPServer } from 'smtp-server';
import { buildApp, type AppOptions } from './app.js';
import { ensureAccountAndAdmin, type BootstrapResult } from './accounts/accounts.js';
import { createAttachmentsService } from './attachments/service.js';
import { DatabaseBlobStore, DiskBlobStore, type BlobStore } from './attachments/storage.js';
import { startUploadSweeper } from './attachments/sweep.js';
import { channelHooks } from './channels/hooks.js';
import { createEmailChannel, fileSink, smtpSink, type MailSink } from './channels/email/deliver.js';
import { createSlackChannel } from './channels/slack/deliver.js';
import { TeamsConnector } from './channels/teams/connector.js';
import { createTeamsChannel } from './channels/teams/deliver.js';
import type { Config } from './config.js';
import { migrateToLatest, type StartingStore, type Store } from './db/store.js';
import { RenderedRows } from './db/rendered-rows.js';
import { SecretBox } from './integrations/secret-box.js';
import { createSideConversationCommands } from './side-conversations/commands.js';
import { warmHtmlTools } from './text/html.js';
import { startBackupSocket } from './ops/backup-socket.js';
import { Metrics } from './ops/metrics.js';
import { Relay, type RelayLogger } from './outbox/relay.js';
import type { RelayObserver } from './outbox/relay-observer.js';
import { createWebhookChannel } from './webhooks/deliver.js';
import { WebhookSecrets } from './webhooks/secrets.js';

/** How long after the port opens the relay and the upload sweeper start (see Runtime.listen). */
const BACKGROUND_START_DELAY_MS = 1_000;

export function blobStoreFor(config: Config, store: Pick<Store, 'db'>): BlobStore {
  return config.attachmentStore === 'database' ? new DatabaseBlobStore(store.db) : new DiskBlobStore(join(config.dataDir, 'attachments'));
}

function mailSinkFor(config: Config): MailSink {
  return config.smtpUrl ? smtpSink(config.smtpUrl) : fileSink(join(config.dataDir, 'outbox-mail'));
}

export function bootstrapOptions(config: Config) {
  return { adminEmail: config.adminEmail, adminPassword: config.adminPassword, supportAddress: config.supportAddress };
}

/** The relay with every channel it delivers to, and the mail sink it sends through (closed by its owner). */
export function createRelay(config: Config, store: Store, logger: RelayLogger, observer?: RelayObserver): { relay: Relay; sink: MailSink } {
  const sink = mailSinkFor(config);
  const blobs = blobStoreFor(config, store);
  const box = SecretBox.fromEnv(config.encryptionKey);
  const relay = new Relay({
    db: store.db,
    logger,
    ...(observer ? { observer } : {}),
    pollMs: config.relayPollMs,
    leaseMs: config.relayLeaseMs,
    concurrency: config.relayConcurrency,
    channels: {
      email: createEmailChannel({ db: store.db, blobs, sink, inboundDomain: config.inboundDomain }),
      slack: createSlackChannel({ db: store.db, blobs, box, apiUrl: config.slackApiUrl }),
      msteams: createTeamsChannel({
        db: store.db,
        box,
        connector: new TeamsConnector({ tokenUrl: config.teamsTokenUrl, scope: 'https://api.botframework.com/.default', allowPrivate: config.outboundAllowPrivate }),
      }),
      webhook: createWebhookChannel({
        db: store.db,
        secrets: new WebhookSecrets(store.db, box),
        allowPrivate: config.webhookAllowPrivate,
        baseUrl: config.publicUrl ?? `http://localhost:${config.port}`,
      }),
    },
  });
  return { relay, sink };
}

/** What buildApp is given for this configuration and store (the tests' helpers start from this too). */
export function appOptionsFor(config: Config, store: Pick<AppOptions, 'db' | 'reads' | 'notifications' | 'hotReads'>, metrics: Metrics | null = null): AppOptions {
  return {
    metrics: metrics && config.metricsToken ? { metrics, token: config.metricsToken } : null,
    db: store.db,
    reads: store.reads,
    rendered: new RenderedRows(),
    hotReads: store.hotReads,
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
    consoleDir: config.consoleDir,
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
  };
}

export interface Runtime {
  app: Awaited<ReturnType<typeof buildApp>>;
  store: Store;
  /** The first account and admin, as made or found at start (a generated password is in it once). */
  bootstrap: BootstrapResult;
  /** Opens the HTTP port (and starts the relay and the sweeper a moment later). */
  listen(): Promise<void>;
  /** Stops taking work, drains what is in flight, closes the store. */
  close(): Promise<void>;
}

/**
 * A serving process: the app is built while the store starts (buildApp sends no query; its parts
 * query on their first request), then the store is migrated, the first account made, and the
 * inbound SMTP listener opened (when configured). Listening is the caller's call (Runtime.listen).
 */
export async function buildRuntime(config: Config, starting: StartingStore): Promise<Runtime> {
  const { store, ready } = starting;
  const migrated = ready.then(() => migrateToLatest(store.db));
  migrated.catch(() => undefined); // awaited below, once the app is built
  const metrics = config.metricsToken ? new Metrics({ db: store.db, poolStats: () => store.poolStats() }) : null;
  const app = await buildApp(appOptionsFor(config, store, metrics));
  let bootstrap: BootstrapResult;
  try {
    await migrated;
    bootstrap = await ensureAccountAndAdmin(store.db, bootstrapOptions(config));
  } catch (error) {
    await app.close();
    await store.close();
    throw error;
  }
  app.log.info({ store: store.kind, location: store.location }, 'store ready');

  const background = config.relayInServe ? createRelay(config, store, app.log.child({ component: 'relay' }), metrics?.relayObserver) : null;
  if (background && store.kind === 'pglite') {
    // The data directory is locked to this process: claims left in it belong to a process that died.
    const released = await background.relay.releaseAllClaims();
    if (released > 0) app.log.warn({ released }, 'released outbox claims of a previous process');
  }
  const backups = store.dumpDataDir ? await startBackupSocket(resolve(config.dataDir), store.dumpDataDir, app.log.child({ component: 'backup' })) : null;
  // smtp-server (and the mail parser behind it) is loaded only when inbound SMTP is configured.
  const smtp: SMTPServer | null = config.inboundSmtpPort === undefined
    ? null
    : (await import('./channels/email/smtp-listener.js')).createSmtpListener({
        db: store.db,
        attachments: createAttachmentsService({ db: store.db, blobs: blobStoreFor(config, store) }),
        inboundDomain: config.inboundDomain,
        trustedAuthservId: config.inboundTrustedAuthservId,
        commands: createSideConversationCommands({ rateLimitPer10Minutes: config.rateLimitPer10Minutes, hooks: channelHooks() }),
        maxBytes: config.inboundMaxBytes,
        maxClients: config.inboundSmtpMaxClients,
        logger: app.log.child({ component: 'smtp' }),
      });
  if (smtp) {
    await new Promise<void>((resolve, reject) => {
      smtp.once('error', reject);
      smtp.listen(config.inboundSmtpPort, config.inboundSmtpHost, () => {
        smtp.off('error', reject);
        resolve();
      });
    });
    const address = (smtp as unknown as { server: import('node:net').Server }).server.address();
    app.log.info({ address }, 'inbound SMTP listening');
  }

  let sweeper: { stop(): void } | null = null;
  let backgroundStart: NodeJS.Timeout | null = null;
  return {
    app,
    store,
    bootstrap,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      // Background work starts a moment after the port answers: its first passes (a claim, a sweep)
      // run PostgreSQL's planner cold inside the embedded store, on this thread, and the first
      // requests would wait behind them (measured: 0.3 s of the first answer). The HTML sanitiser
      // is loaded then too (see text/html.ts).
      backgroundStart = setTimeout(() => {
        warmHtmlTools();
        background?.relay.start();
        sweeper = startUploadSweeper(createAttachmentsService({ db: store.db, blobs: blobStoreFor(config, store) }), app.log.child({ component: 'uploads' }));
      }, BACKGROUND_START_DELAY_MS);
    },
    async close() {
      if (backgroundStart) clearTimeout(backgroundStart);
      sweeper?.stop();
      if (smtp) await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await app.close();
      await backups?.close();
      await background?.relay.stop();
      background?.sink.close();
      await store.close();
    },
  };
}
