/**
 * Part 5, slow-client flood: several hundred sockets from one client address (127.0.0.2) trickle
 * request headers or bodies a byte at a time, or connect and say nothing, and reconnect whenever
 * the server drops them; meanwhile the harness sends normal requests (list, create, /healthz) from
 * 127.0.0.1. The server must keep answering the normal requests and /healthz. Printed: the normal
 * requests' p50/p99 before and during the flood, and what became of the slow sockets (dropped at
 * connect by MAX_CONNECTIONS_PER_CLIENT, cut at the request deadline, still open at the end).
 * Speed is printed, not asserted: only "answered" is.
 */
import net from 'node:net';
import { rawRequest, type RawResponse } from '../lib/http.js';
import { startServer, type SidelineProcess } from '../lib/procs.js';
import { check, latencySummary, log, section } from '../lib/report.js';
import { ADMIN_AUTH, openStoreHandle, sleep } from '../lib/sideline.js';

const FLOOD_ADDRESS = '127.0.0.2';
/** Short, so the deadline cuts sockets within the flood (headers within min(15 s, this)). */
const REQUEST_TIMEOUT_MS = 5_000;
const TRICKLE_MS = 500;
/** A socket the server closed sooner than this after connecting was dropped at connect, not cut at a deadline. */
const DROPPED_AT_ONCE_MS = 1_000;
const RECONNECT_MS = 1_000;

type SlowKind = 'headers' | 'body' | 'idle';

interface SlowTally {
  opened: number;
  droppedAtConnect: number;
  cutAtDeadline: number;
  answered408: number;
  stillOpen: number;
}

interface NormalSample {
  kind: 'list' | 'create' | 'healthz';
  status: number;
  ms: number;
  failure?: string;
}

function newTally(): SlowTally {
  return { opened: 0, droppedAtConnect: 0, cutAtDeadline: 0, answered408: 0, stillOpen: 0 };
}

/**
 * One slot of the flood: opens a slow socket, waits until the server closes it (or the flood ends),
 * records how it ended, and opens the next one.
 */
async function slowSlot(port: number, kind: SlowKind, tally: SlowTally, running: () => boolean): Promise<void> {
  while (running()) {
    await new Promise<void>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress: FLOOD_ADDRESS });
      let connectedAt = 0;
      let received = '';
      let trickle: NodeJS.Timeout | null = null;
      let byUs = false;
      const stopCheck = setInterval(() => {
        if (running()) return;
        byUs = true;
        socket.destroy();
      }, 250);
      socket.on('connect', () => {
        connectedAt = Date.now();
        tally.opened += 1;
        if (kind === 'headers') {
          socket.write('GET /api/v2/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
          trickle = setInterval(() => socket.writable && socket.write('a'), TRICKLE_MS);
        } else if (kind === 'body') {
          socket.write(`POST /api/v2/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ADMIN_AUTH}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
          trickle = setInterval(() => socket.writable && socket.write('{'), TRICKLE_MS);
        }
      });
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(stopCheck);
        if (trickle) clearInterval(trickle);
        if (connectedAt === 0) tally.droppedAtConnect += 1; // refused before the handshake finished
        else if (byUs) tally.stillOpen += 1;
        else if (Date.now() - connectedAt < DROPPED_AT_ONCE_MS && received === '') tally.droppedAtConnect += 1;
        else {
          tally.cutAtDeadline += 1;
          if (received.startsWith('HTTP/1.1 408')) tally.answered408 += 1;
        }
        resolve();
      });
    });
    if (running()) await sleep(RECONNECT_MS);
  }
}

/** Normal traffic from 127.0.0.1 until `running()` turns false: `workers` loops of list, create, /healthz. */
async function normalTraffic(port: number, workers: number, running: () => boolean): Promise<NormalSample[]> {
  const samples: NormalSample[] = [];
  const record = (kind: NormalSample['kind'], res: RawResponse) => samples.push({ kind, status: res.status, ms: res.ms, ...(res.failure ? { failure: res.failure } : {}) });
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; running(); i++) {
        record('list', await rawRequest(port, { method: 'GET', target: '/api/v2/tickets?per_page=5', headers: [['Authorization', ADMIN_AUTH]] }, 30_000));
        const body = JSON.stringify({ ticket: { subject: `slow flood ${w}-${i}`, comment: { body: 'normal traffic' } } });
        record('create', await rawRequest(port, { method: 'POST', target: '/api/v2/tickets', headers: [['Authorization', ADMIN_AUTH], ['Content-Type', 'application/json']], body }, 30_000));
        record('healthz', await rawRequest(port, { method: 'GET', target: '/healthz' }, 30_000));
      }
    }),
  );
  return samples;
}

function answeredRight(s: NormalSample): boolean {
  return s.kind === 'create' ? s.status === 201 : s.status === 200;
}

export async function slowFloodPart(options: { short: boolean }): Promise<void> {
  section('Part 5: a slow-client flood from one address beside normal traffic');
  const sizes = options.short ? { headers: 100, body: 60, idle: 100, baselineMs: 3_000, floodMs: 12_000 } : { headers: 300, body: 200, idle: 300, baselineMs: 5_000, floodMs: 30_000 };
  const store = await openStoreHandle('pglite', 'slowflood');
  let server: SidelineProcess | null = null;
  try {
    server = await startServer('slowflood', { ...store.env, REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
    const port = server.port;
    const label = 'slowflood';
    // Warm: the admin's Basic header is verified once and cached, as in normal use.
    await rawRequest(port, { method: 'GET', target: '/api/v2/tickets?per_page=5', headers: [['Authorization', ADMIN_AUTH]] });

    // Warm the server's code paths (JIT, pools) so the baseline is not its first seconds.
    let warming = true;
    const warmed = sleep(2_000).then(() => (warming = false));
    await normalTraffic(port, 4, () => warming);
    await warmed;

    let baselineOn = true;
    const baselineDone = sleep(sizes.baselineMs).then(() => (baselineOn = false));
    const baseline = await normalTraffic(port, 4, () => baselineOn);
    await baselineDone;

    let floodOn = true;
    const tallies: Record<SlowKind, SlowTally> = { headers: newTally(), body: newTally(), idle: newTally() };
    const slots = (['headers', 'body', 'idle'] as const).flatMap((kind) => Array.from({ length: sizes[kind] }, () => slowSlot(port, kind, tallies[kind], () => floodOn)));
    log(`${label}: ${slots.length} slow sockets from ${FLOOD_ADDRESS} (${sizes.headers} trickling headers, ${sizes.body} trickling bodies, ${sizes.idle} idle; a byte every ${TRICKLE_MS} ms; REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS}) for ${sizes.floodMs / 1000} s`);
    // Let the flood take every socket it can before measuring.
    await sleep(1_000);
    const floodDone = sleep(sizes.floodMs).then(() => (floodOn = false));
    const during = await normalTraffic(port, 4, () => floodOn);
    await floodDone;
    await Promise.all(slots);

    const ok = (samples: NormalSample[]) => samples.filter(answeredRight);
    log(`${label}: normal requests before the flood: ${latencySummary(ok(baseline).map((s) => s.ms))}`);
    log(`${label}: normal requests during the flood: ${latencySummary(ok(during).map((s) => s.ms))}`);
    for (const kind of ['list', 'create', 'healthz'] as const) {
      log(`${label}:   ${kind} during the flood: ${latencySummary(ok(during.filter((s) => s.kind === kind)).map((s) => s.ms))}`);
    }
    for (const kind of ['headers', 'body', 'idle'] as const) {
      const t = tallies[kind];
      log(`${label}: slow ${kind}: ${t.opened} opened, ${t.droppedAtConnect} dropped at connect, ${t.cutAtDeadline} cut by the server later (${t.answered408} with 408), ${t.stillOpen} still open when the flood ended`);
    }
    const cut = Object.values(tallies).reduce((n, t) => n + t.droppedAtConnect + t.cutAtDeadline, 0);
    const wrong = during.filter((s) => !answeredRight(s));
    const healthz = during.filter((s) => s.kind === 'healthz');

    check(`${label}: the server is up after the flood`, server.alive());
    check(`${label}: normal requests were answered during the flood`, during.length > 0 && wrong.length === 0, `${during.length - wrong.length} of ${during.length} answered 200/201`, wrong.slice(0, 12).map((s) => `${s.kind}: ${s.status} ${s.failure ?? ''}`));
    check(`${label}: /healthz answered 200 throughout`, healthz.length > 0 && healthz.every(answeredRight), `${healthz.filter(answeredRight).length} of ${healthz.length}`);
    check(`${label}: the server cut slow sockets (dropped at connect or at their deadline)`, cut > 0, `${cut} cut`);
    const after = await rawRequest(port, { method: 'GET', target: '/healthz' });
    check(`${label}: /healthz answers after the flood`, after.status === 200, `HTTP ${after.status}`);
    const errors = server.errorLines();
    check(`${label}: no error in the server log`, errors.length === 0, `${errors.length} error lines`, errors);
  } finally {
    await server?.stop();
    await store.cleanup();
  }
}
