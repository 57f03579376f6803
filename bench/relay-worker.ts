/**
 * Drains the outbox with the real Relay and email channel (src/outbox/relay.ts,
 * src/channels/email/deliver.ts) into the SMTP server of SMTP_URL, and reports how long it took.
 *
 * env: DATABASE_URL (PostgreSQL) or DATA_DIR (PGlite), SMTP_URL, RELAYS (concurrent relays, default 1),
 *      TIME_LIMIT_S (default 300)
 * stdout: one JSON line {delivered, failed, pending, seconds, relays}
 */
import { DatabaseBlobStore } from '../src/attachments/storage.js';
import { createEmailChannel, smtpSink } from '../src/channels/email/deliver.js';
import { openStore } from '../src/db/store.js';
import { Relay } from '../src/outbox/relay.js';

const env = process.env;
const databaseUrl = env['DATABASE_URL'] || undefined;
const relays = Math.max(1, Number(env['RELAYS'] ?? '1'));
const limitMs = Number(env['TIME_LIMIT_S'] ?? '300') * 1000;
const store = await openStore({ databaseUrl, dataDir: databaseUrl ? undefined : env['DATA_DIR'] });
const sink = smtpSink(env['SMTP_URL']!);
const quiet = { info() {}, warn() {}, error() {} };
let failures = 0;
const logger = { ...quiet, error: () => void failures++ };

try {
  const channel = createEmailChannel({ db: store.db, blobs: new DatabaseBlobStore(store.db), sink, inboundDomain: 'sideline.localhost' });
  // The SMTP client is loaded on the first message (to keep it out of a server's start); a relay
  // pays that once in its life, so it is loaded before the clock starts, not counted as draining.
  await import('nodemailer');
  const deadline = Date.now() + limitMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: relays }, async (_, i) => {
      const relay = new Relay({ db: store.db, logger, channels: { email: channel }, relayId: `bench-relay-${i}` });
      while (Date.now() < deadline && (await relay.runOnce()) > 0) {
        /* next batch */
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const counts = await store.db.selectFrom('outbox').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  const by = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)]));
  process.stdout.write(
    `${JSON.stringify({ delivered: by['delivered'] ?? 0, failed: by['failed'] ?? 0, pending: by['pending'] ?? 0, seconds, relays, passErrors: failures })}\n`,
  );
} finally {
  sink.close();
  await store.close();
}
