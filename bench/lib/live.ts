/**
 * What reaches the outside as it happens, and how soon the server answers at all:
 * - start-up: `npm start`'s command (scripts/run.mjs serve, the built bundle) to the first /healthz 200,
 *   on an existing store and on a new DATA_DIR;
 * - the live stream: events fanned out to many open streams, and how long after its write an event
 *   arrives on each;
 * - webhooks: a backlog of webhook deliveries drained by the relay into a loopback receiver.
 */
import { request, createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnTs, waitForHttp } from './processes.js';
import { newTicket } from './fixtures.js';
import { ADMIN_AUTH, ADMIN_EMAIL, ADMIN_PASSWORD, HOST, apiOk, inParallel, startSideline } from './sideline.js';
import type { BenchStore } from './stores.js';

export interface Figure {
  section: string;
  store: string;
  name: string;
  value: number;
  unit: string;
  detail: string;
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

const SERVE_ENV = { HOST: '127.0.0.1', LOG_LEVEL: 'warn', SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL, SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD };

/** Milliseconds from spawning `node scripts/run.mjs serve` to the first 200 of /healthz. */
async function timeToFirstAnswer(env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnTs('sideline (npm start)', 'scripts/run.mjs', ['serve'], { ...SERVE_ENV, ...env, PORT: String(port) }, [], false);
  try {
    await waitForHttp(child, port, { intervalMs: 10, timeoutMs: 120_000 });
    return performance.now() - started;
  } finally {
    await child.stop();
  }
}

/** Start-up of the built server on the embedded store: `runs` starts on one store, and `runs` on new ones. */
export async function startupFigures(runs: number): Promise<Figure[]> {
  const work = mkdtempSync(join(tmpdir(), 'sideline-bench-start-'));
  try {
    // The first start builds if the sources are newer than the build: not counted.
    await timeToFirstAnswer({ DATA_DIR: join(work, 'warm') });
    const existing: number[] = [];
    const fresh: number[] = [];
    for (let i = 0; i < runs; i++) {
      existing.push(await timeToFirstAnswer({ DATA_DIR: join(work, 'warm') }));
      fresh.push(await timeToFirstAnswer({ DATA_DIR: join(work, `new-${i}`) }));
    }
    const figure = (name: string, samples: number[]): Figure => {
      const sorted = [...samples].sort((a, b) => a - b);
      return {
        section: 'startup',
        store: 'PGlite',
        name,
        value: percentile(sorted, 50),
        unit: 'ms',
        detail: `p50 of ${runs}; max ${Math.round(sorted[sorted.length - 1]!)} ms; all: ${samples.map((s) => Math.round(s)).join(', ')}`,
      };
    };
    return [figure('npm start → first answer, existing store', existing), figure('npm start → first answer, new DATA_DIR', fresh)];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface StreamClient {
  /** Arrival time (performance.now()) of each side conversation's `created` event, by its id. */
  arrivals: Map<string, number>;
  close(): void;
}

function openStream(port: number): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const arrivals = new Map<string, number>();
    const req = request(
      { host: '127.0.0.1', port, path: '/api/v2/sideline/stream', headers: { host: `${HOST}:${port}`, authorization: ADMIN_AUTH, accept: 'text/event-stream' } },
      (res: IncomingMessage) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const now = performance.now();
          buffer += chunk;
          let at: number;
          while ((at = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            if (!block.includes('event: side_conversation.created')) continue;
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (!data) continue;
            const id = (JSON.parse(data.slice(6)) as { side_conversation?: { id?: string } }).side_conversation?.id;
            if (id) arrivals.set(id, now);
          }
        });
        resolve({ arrivals, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A server on the store with its relay off unless `env` says otherwise. */
const startServe = (store: BenchStore, env: Record<string, string> = {}) => startSideline(store, [], env);

const liveTicket = (port: number) => newTicket(port, 'Live bench');

/**
 * `streams` open streams; `writes` side conversation creates at most `concurrency` at a time.
 * Delay: from the write's request start to the event's arrival on a stream — an upper bound of
 * commit → arrival (the commit happens inside that request).
 */
export async function streamFigures(store: BenchStore, streams: number, writes: number, concurrency: number): Promise<Figure[]> {
  const { child, port } = await startServe(store);
  const clients: StreamClient[] = [];
  try {
    const tickets = await Promise.all(Array.from({ length: 8 }, () => liveTicket(port)));
    for (let i = 0; i < streams; i++) clients.push(await openStream(port));
    const sentAt = new Map<string, number>();
    const started = performance.now();
    await inParallel(writes, concurrency, async (i) => {
      const at = performance.now();
      const res = await apiOk(port, 'POST', `/api/v2/tickets/${tickets[i % tickets.length]}/side_conversations.json`, {
        message: { subject: `Live ${i}`, body: `Event ${i} for the streams`, to: [{ email: `live${i % 5}@example.com` }] },
      });
      sentAt.set(res.json.side_conversation.id as string, at);
    });
    // Wait (up to 30 s) until every stream has every event.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && clients.some((c) => [...sentAt.keys()].some((id) => !c.arrivals.has(id)))) await new Promise((r) => setTimeout(r, 50));
    const delays: number[] = [];
    let lastArrival = started;
    let delivered = 0;
    for (const c of clients) {
      for (const [id, sent] of sentAt) {
        const arrived = c.arrivals.get(id);
        if (arrived === undefined) continue;
        delivered += 1;
        delays.push(arrived - sent);
        lastArrival = Math.max(lastArrival, arrived);
      }
    }
    delays.sort((a, b) => a - b);
    const seconds = (lastArrival - started) / 1000;
    const missing = streams * writes - delivered;
    const detail = `${writes} creates (${concurrency} at a time) to ${streams} streams: ${delivered} arrivals in ${seconds.toFixed(2)} s${missing ? `, ${missing} MISSING` : ''}`;
    return [
      { section: 'stream', store: store.label, name: `events fanned out to ${streams} streams`, value: delivered / seconds, unit: 'events/s', detail },
      { section: 'stream', store: store.label, name: 'write start → arrival on a stream, p50', value: percentile(delays, 50), unit: 'ms', detail },
      { section: 'stream', store: store.label, name: 'write start → arrival on a stream, p99', value: percentile(delays, 99), unit: 'ms', detail },
    ];
  } finally {
    for (const c of clients) c.close();
    await child.stop();
  }
}

/**
 * `count` webhook deliveries queued with the relay off (one create each, to a webhook subscribed to
 * `created`), then a server with the relay on drains them into a loopback receiver.
 */
export async function webhookFigures(store: BenchStore, count: number): Promise<Figure[]> {
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  const ids = new Set<string>();
  const receiver = createServer((req, res) => {
    const invocation = req.headers['x-zendesk-webhook-invocation-id'];
    req.resume();
    req.on('end', () => {
      received += 1;
      if (typeof invocation === 'string') ids.add(invocation);
      lastAt = performance.now();
      firstAt ||= lastAt;
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverPort = (receiver.address() as { port: number }).port;
  const env = { WEBHOOK_ALLOW_PRIVATE: 'true' };
  try {
    const queueing = await startServe(store, env);
    try {
      await apiOk(queueing.port, 'POST', '/api/v2/webhooks', {
        webhook: {
          name: 'Bench receiver',
          endpoint: `http://127.0.0.1:${receiverPort}/hook`,
          http_method: 'POST',
          request_format: 'json',
          status: 'active',
          subscriptions: ['zen:event-type:side_conversation.created'],
        },
      });
      const tickets = await Promise.all(Array.from({ length: 8 }, () => liveTicket(queueing.port)));
      await inParallel(count, 16, (i) =>
        apiOk(queueing.port, 'POST', `/api/v2/tickets/${tickets[i % tickets.length]}/side_conversations.json`, {
          message: { subject: `Hook ${i}`, body: `Webhook ${i}`, to: [{ email: `hook${i % 5}@example.com` }] },
        }),
      );
    } finally {
      await queueing.child.stop();
    }
    const started = performance.now();
    const draining = await startServe(store, { ...env, RELAY: 'on', RELAY_POLL_MS: '100' });
    try {
      const deadline = Date.now() + 300_000;
      while (ids.size < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await draining.child.stop();
    }
    // From the first delivery to the last: the relay's pace, not the server's start.
    const seconds = (lastAt - firstAt) / 1000;
    const detail =
      `${count} queued, ${ids.size} distinct invocations received (${received} requests) in ${seconds.toFixed(2)} s; ` +
      `the first ${((firstAt - started) / 1000).toFixed(2)} s after the relay's server was started; RELAY_CONCURRENCY default`;
    return [{ section: 'webhooks', store: store.label, name: 'webhook deliveries to a loopback receiver', value: ids.size > 1 ? (ids.size - 1) / seconds : 0, unit: 'deliveries/s', detail }];
  } finally {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  }
}
