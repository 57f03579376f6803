import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type { EmbeddedDatabase } from './embedded-database.js';
import type { Notifications } from './notifications.js';

/**
 * Presents one PGlite instance as a node-postgres style pool, so Kysely's PostgresDialect (and so
 * every query of ours) runs unchanged on the embedded store.
 *
 * PGlite is a single session: two interleaved transactions would share it. A checkout therefore
 * holds the whole instance until release(), exactly like a pool of size one.
 */
export class PGlitePool implements PostgresPool, Notifications {
  /** Set once the instance has started; every use waits for that first (see the constructor). */
  #pglite!: EmbeddedDatabase;
  readonly #onWrite: () => void;
  readonly #started: Promise<void>;
  #isStarted = false;
  #tail: Promise<void> = Promise.resolve();
  #ended = false;
  /** Checkouts waiting for the instance, and whether one holds it (for metrics). */
  #waiting = 0;
  #inUse = false;

  /**
   * `pglite` may still be starting: checkouts wait for it, so the pool can be handed out (and the
   * app built) while PGlite starts, and a failed start fails each checkout.
   * `onWrite` is called as any statement but a plain SELECT is sent (see ReadCache).
   */
  constructor(pglite: EmbeddedDatabase | Promise<EmbeddedDatabase>, onWrite: () => void = () => undefined) {
    this.#started = Promise.resolve(pglite).then((started) => {
      this.#pglite = started;
      this.#isStarted = true;
    });
    this.#started.catch(() => undefined); // reported by the checkouts that wait for it
    this.#onWrite = onWrite;
  }

  async connect(): Promise<PostgresPoolClient> {
    if (this.#ended) throw new Error('the embedded store is closed');
    // Once started, a checkout joins the queue in the same turn it asks (the waiting count is exact).
    if (!this.#isStarted) await this.#started;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => released);
    this.#waiting += 1;
    await previous.finally(() => (this.#waiting -= 1));
    this.#inUse = true;
    const pool = this;
    const pglite = this.#pglite;
    const onWrite = this.#onWrite;
    let done = false;
    const client = {
      async query<R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        if (!SELECT.test(sqlText)) onWrite();
        const result = await pglite.query<R>(sqlText, [...parameters]);
        const command = (result.command ?? 'SELECT') as PostgresQueryResult<R>['command'];
        return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
      },
      release(): void {
        if (done) return;
        done = true;
        pool.#inUse = false;
        release();
      },
    };
    return client as PostgresPoolClient;
  }

  /**
   * In-process LISTEN. Run through a checkout like any statement: the instance is one session, and a
   * LISTEN sent in the middle of somebody else's transaction would be undone by its rollback.
   * Nothing is ever missed in process, so there is no resync to report.
   */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const exclusively = async <T>(work: () => Promise<T>): Promise<T> => {
      const client = await this.connect();
      try {
        return await work();
      } finally {
        client.release();
      }
    };
    const unlisten = await exclusively(() => this.#pglite.listen(channel, onPayload));
    return async () => {
      if (this.#ended) return;
      await exclusively(() => unlisten());
    };
  }

  /** Runs `work` while holding the session, so no transaction of ours is half-way through meanwhile. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await work();
    } finally {
      client.release();
    }
  }

  /** The one session as a pool of size one: in use or idle, and how many checkouts wait for it. */
  stats(): PoolStats {
    return { total: 1, idle: this.#inUse ? 0 : 1, waiting: this.#waiting };
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this.#started;
    } catch {
      return; // it never started: there is nothing to close
    }
    await this.#tail;
    await this.#pglite.close();
  }
}

const SELECT = /^\s*select\b/i;

/** Connections of a store's pool: open, idle among them, and checkouts waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** PostgreSQL's int8 type: parsed as JS numbers on both stores (ids, counts); our ids stay far below 2^53. */
export const INT8_OID = 20;
