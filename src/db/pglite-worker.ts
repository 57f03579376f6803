/**
 * The embedded store's thread: one PGlite instance, driven by messages from EmbeddedDatabase
 * (embedded-database.ts). Running PostgreSQL here, not on the server's thread, lets the server load
 * and build its routes while PostgreSQL starts, and keeps the event loop free while a statement runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';
import type { WorkerReply, WorkerRequest, WorkerStart } from './pglite-protocol.js';
import { preparedStatements, type RunStatement } from './pglite-statements.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker.ts runs as a worker thread');
const start = workerData as WorkerStart;

/** int8 (ids, counts) as JS numbers, as on PostgreSQL (see INT8_OID); our ids stay far below 2^53. */
const parseInt8 = (value: string) => Number(value);

const options = {
  parsers: { [types.INT8]: parseInt8 },
  startParams: [...PGlite.defaultStartParams, ...start.startParams],
};
const starting = start.dataDir ? PGlite.create(start.dataDir, options) : PGlite.create(options);
const statements: Promise<RunStatement> = starting.then(preparedStatements);
const unlisteners = new Map<number, () => Promise<void>>();

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** What crosses back of a PostgreSQL error: its message and its fields (code, constraint, detail…). */
function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: Record<string, unknown> = { message: error.message, name: error.name };
  for (const [key, value] of Object.entries(error)) {
    if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null)) continue;
    fields[key] = value;
  }
  return fields;
}

async function handle(request: WorkerRequest): Promise<void> {
  const pglite = await starting;
  switch (request.op) {
    case 'query': {
      const run = await statements;
      if (request.opener !== undefined) await run(request.opener, []);
      reply({ id: request.id, ok: true, value: await run(request.sql, request.params) });
      return;
    }
    case 'listen': {
      const unlisten = await pglite.listen(request.channel, (payload) => reply({ notify: request.id, payload }));
      unlisteners.set(request.id, unlisten);
      reply({ id: request.id, ok: true, value: null });
      return;
    }
    case 'unlisten': {
      await unlisteners.get(request.listenId)?.();
      unlisteners.delete(request.listenId);
      reply({ id: request.id, ok: true, value: null });
      return;
    }
    case 'dump': {
      const bytes = new Uint8Array(await (await pglite.dumpDataDir('gzip')).arrayBuffer());
      reply({ id: request.id, ok: true, value: bytes }, [bytes.buffer as ArrayBuffer]);
      return;
    }
    case 'close': {
      await pglite.close();
      reply({ id: request.id, ok: true, value: null });
      port!.close();
      return;
    }
  }
}

starting.then(
  () => reply({ started: true }),
  (error: unknown) => reply({ started: false, error: errorFields(error) }),
);
/**
 * Requests are handled one after another, in the order they came. A request's own steps (a begin,
 * then its statement) await, and statements sent together without waiting for each other's answers
 * (send-together.ts) must run in the order sent, not interleaved at those awaits.
 */
let handled: Promise<void> = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  handled = handled.then(() => handle(request)).catch((error: unknown) => reply({ id: request.id, ok: false, error: errorFields(error) }));
});
