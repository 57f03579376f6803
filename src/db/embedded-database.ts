import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageDir } from '../package-dir.js';
import type { QueryOutcome, WorkerReply, WorkerRequest, WorkerStart } from './pglite-protocol.js';

/** What the embedded store needs of PGlite: statements, LISTEN, a dump of its data directory, close. */
export interface EmbeddedDatabase {
  /**
   * One statement. `opener`: a transaction's begin, run just before it in the same exchange with
   * the thread (PGlitePool defers a begin to its first statement: one exchange fewer per transaction).
   */
  query<R>(sql: string, params?: unknown[], opener?: string): Promise<{ rows: R[]; affectedRows: number | undefined; command: string | undefined }>;
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** The data directory as a gzipped tarball (PGlite's dumpDataDir). */
  dumpDataDir(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A request as sent, before call() gives it its id. */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

declare const __SIDELINE_BUILD_ID__: string | undefined;

/**
 * The thread: dist/pglite-worker.js when built. From sources (tests, `tsx src/main.ts`), the
 * TypeScript file, loaded through tsx registered in the thread first (a thread does not inherit
 * the loader hooks of the thread that starts it).
 */
function startWorker(workerData: WorkerStart): Worker {
  if (typeof __SIDELINE_BUILD_ID__ === 'string') return new Worker(pathToFileURL(join(packageDir(), 'dist', 'pglite-worker.js')), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = new URL('./pglite-worker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** An Error carrying a PostgreSQL error's fields (code, constraint, detail…), as node-postgres gives them. */
function rebuiltError(fields: Record<string, unknown>): Error {
  const error = new Error(String(fields['message'] ?? 'embedded store error'));
  Object.assign(error, fields);
  return error;
}

/** bytea values come back across the thread as Uint8Array; our code (like node-postgres users) expects Buffers. */
function withBuffers(rows: unknown[]): unknown[] {
  for (const row of rows) {
    if (!row || typeof row !== 'object') continue;
    const record = row as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      if (value instanceof Uint8Array && !Buffer.isBuffer(value)) record[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return rows;
}

/**
 * Starts PGlite on a thread of its own (pglite-worker.ts) and resolves once PostgreSQL has started.
 * If the thread dies, every waiting and later call fails with that error: the server answers 503s
 * instead of crashing.
 */
export function startEmbeddedDatabase(start: WorkerStart): Promise<EmbeddedDatabase> {
  const worker = startWorker(start);
  // Like PGlite in process, the thread keeps the process alive only while a call waits for it
  // (ref'd in call(), unref'd when none is left): a store left open does not hold the process.
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const listeners = new Map<number, (payload: string) => void>();
  let nextId = 1;
  let failure: Error | null = null;
  let closed = false;

  const fail = (error: Error) => {
    failure ??= error;
    for (const call of pending.values()) call.reject(failure);
    pending.clear();
  };

  const call = <T>(request: RequestBody, id = nextId++): Promise<T> => {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
  };

  const database: EmbeddedDatabase = {
    async query<R>(sql: string, params: unknown[] = [], opener?: string) {
      const outcome = await call<QueryOutcome>(opener === undefined ? { op: 'query', sql, params } : { op: 'query', sql, params, opener });
      return { rows: withBuffers(outcome.rows) as R[], affectedRows: outcome.affectedRows, command: outcome.command };
    },
    async listen(channel, onPayload) {
      // The listen request's id names its notifications (see WorkerReply).
      const id = nextId++;
      listeners.set(id, onPayload);
      try {
        await call({ op: 'listen', channel }, id);
      } catch (error) {
        listeners.delete(id);
        throw error;
      }
      return async () => {
        listeners.delete(id);
        await call({ op: 'unlisten', listenId: id });
      };
    },
    dumpDataDir: () => call<Uint8Array>({ op: 'dump' }),
    async close() {
      if (closed) return;
      closed = true;
      // The thread ends by itself once PGlite has closed. terminate() is only the fallback: stopping
      // a thread that holds WebAssembly can crash Node (nodejs/node#47748).
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      try {
        await call({ op: 'close' });
      } catch {
        // closing failed (or the thread is gone already): stop it below
      }
      worker.ref();
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };

  return new Promise<EmbeddedDatabase>((resolve, reject) => {
    worker.on('message', (message: WorkerReply) => {
      if ('started' in message) {
        if (message.started) {
          if (pending.size === 0) worker.unref();
          resolve(database);
        }
        else {
          const error = rebuiltError(message.error);
          fail(error);
          void worker.terminate();
          reject(error);
        }
      } else if ('notify' in message) {
        listeners.get(message.notify)?.(message.payload);
      } else {
        const waiting = pending.get(message.id);
        pending.delete(message.id);
        if (pending.size === 0) worker.unref();
        if (!waiting) return;
        if (message.ok) waiting.resolve(message.value);
        else waiting.reject(rebuiltError(message.error));
      }
    });
    worker.on('error', (error) => {
      fail(error);
      reject(error);
    });
    worker.on('exit', (code) => {
      const error = new Error(closed ? 'the embedded store is closed' : `the embedded store's thread stopped (exit code ${code})`);
      fail(error);
      reject(error);
    });
  });
}

/**
 * PGlite in this thread, for the in-memory stores of the tests: many short-lived stores, and a
 * thread left running when a test process exits without closing its store would be stopped by
 * Node's exit, the crash the thread's close() avoids (see above).
 */
export async function startInProcessDatabase(startParams: string[]): Promise<EmbeddedDatabase> {
  const [{ PGlite, types }, { preparedStatements }] = await Promise.all([import('@electric-sql/pglite'), import('./pglite-statements.js')]);
  const pglite = await PGlite.create({ parsers: { [types.INT8]: (value: string) => Number(value) }, startParams: [...PGlite.defaultStartParams, ...startParams] });
  const run = preparedStatements(pglite);
  // One query after another, in the order called, as the thread does (see pglite-worker.ts).
  let previous: Promise<unknown> = Promise.resolve();
  return {
    query<R>(sql: string, params: unknown[] = [], opener?: string) {
      const result = previous.then(async () => {
        if (opener !== undefined) await run(opener, []);
        const result = await run(sql, params);
        return { rows: result.rows as R[], affectedRows: result.affectedRows, command: result.command };
      });
      previous = result.catch(() => undefined);
      return result;
    },
    listen: (channel, onPayload) => pglite.listen(channel, onPayload),
    dumpDataDir: async () => new Uint8Array(await (await pglite.dumpDataDir('gzip')).arrayBuffer()),
    close: () => pglite.close(),
  };
}
