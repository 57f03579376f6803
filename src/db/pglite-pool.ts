import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type { EmbeddedDatabase } from './embedded-database.js';
import type { Notifications } from './notifications.js';

/**
 * Presents one PGlite instance as a node-postgres style pool, so Kysely's PostgresDialect (and so
 * every query of ours) runs unchanged on the embedded store.
 *
 * PGlite is a single session: two interleaved transactions would share it. A checkout that begins a
 * transaction therefore holds the whole instance until release(). A statement sent outside a
 * transaction (every read a request makes, like Show, List and Events) holds it only while it runs,
 * and is let in ahead of the transactions that wait: when the session frees, the statements waiting
 * then run first, then the next transaction, so a read waits for at most one transaction in
 * progress, not for every write queued before it (64 creates queued made a Show wait 0.45 s), and
 * statements arriving meanwhile wait until after that transaction (writes are never starved).
 *
 * A transaction's begin is answered at once and sent with its first statement, in one exchange with
 * PGlite's thread: the session is held for every exchange of a transaction, waits included (the
 * server's thread answers the next one only when its event loop comes round), so each exchange
 * saved shortens the queue of every writer behind it.
 */
export class PGlitePool implements PostgresPool, Notifications {
  /** Set once the instance has started; every use waits for that first (see the constructor). */
  #pglite!: EmbeddedDatabase;
  readonly #onWrite: () => void;
  readonly #started: Promise<void>;
  #isStarted = false;
  #ended = false;
  /** Whether a statement or a transaction holds the session. */
  #busy = false;
  /** Waiting for the session: single statements, and transactions (or exclusive work). */
  readonly #statements: Array<() => void> = [];
  readonly #transactions: Array<() => void> = [];
  /** Statements still to be let in before the next waiting transaction. */
  #statementTurns = 0;
  /** Called once the session is free with nobody waiting (end() waits for that). */
  #onIdle: Array<() => void> = [];

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

  /** Resolves once this caller holds the session (in the same turn when it is free). */
  #acquire(kind: 'statement' | 'transaction'): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => (kind === 'statement' ? this.#statements : this.#transactions).push(resolve));
  }

  /** Hands the session to the next in line (see the class comment for the order). */
  #release(kind: 'statement' | 'transaction'): void {
    if (kind === 'transaction') this.#statementTurns = this.#statements.length;
    let next: (() => void) | undefined;
    if (this.#statementTurns > 0) {
      this.#statementTurns -= 1;
      next = this.#statements.shift();
    }
    next ??= this.#transactions.shift() ?? this.#statements.shift();
    if (next) {
      next(); // the session passes straight on: #busy stays true
      return;
    }
    this.#busy = false;
    for (const idle of this.#onIdle.splice(0)) idle();
  }

  async connect(): Promise<PostgresPoolClient> {
    if (this.#ended) throw new Error('the embedded store is closed');
    if (!this.#isStarted) await this.#started;
    const pool = this;
    const pglite = this.#pglite;
    const onWrite = this.#onWrite;
    /** Whether this checkout began a transaction and holds the session until release(). */
    let holding = false;
    /** The begin of the transaction held, not sent yet: it goes with the next statement, in one exchange. */
    let opener: string | undefined;
    let done = false;
    const run = async <R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
      if (!SELECT.test(sqlText)) onWrite();
      const begin = opener;
      opener = undefined;
      const result = await pglite.query<R>(sqlText, [...parameters], begin);
      const command = (result.command ?? 'SELECT') as PostgresQueryResult<R>['command'];
      return { command, rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
    };
    const client = {
      async query<R>(sqlText: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
        if (holding) return run<R>(sqlText, parameters);
        if (BEGIN.test(sqlText)) {
          await pool.#acquire('transaction');
          holding = true;
          if (parameters.length > 0) return run<R>(sqlText, parameters);
          // Answered now, sent with the transaction's first statement (its failure is that statement's).
          opener = sqlText;
          return { command: 'BEGIN', rowCount: 0, rows: [] } as unknown as PostgresQueryResult<R>;
        }
        await pool.#acquire('statement');
        try {
          return await run<R>(sqlText, parameters);
        } finally {
          pool.#release('statement');
        }
      },
      release(): void {
        if (done) return;
        done = true;
        if (holding) pool.#release('transaction');
      },
    };
    return client as PostgresPoolClient;
  }

  /**
   * In-process LISTEN. Run holding the session like a transaction: the instance is one session, and
   * a LISTEN sent in the middle of somebody else's transaction would be undone by its rollback.
   * Nothing is ever missed in process, so there is no resync to report.
   */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    const unlisten = await this.exclusive(() => this.#pglite.listen(channel, onPayload));
    return async () => {
      if (this.#ended) return;
      await this.exclusive(() => unlisten());
    };
  }

  /** Runs `work` while holding the session, so no transaction of ours is half-way through meanwhile. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.#ended) throw new Error('the embedded store is closed');
    if (!this.#isStarted) await this.#started;
    await this.#acquire('transaction');
    try {
      return await work();
    } finally {
      this.#release('transaction');
    }
  }

  /** The one session as a pool of size one: in use or idle, and how many checkouts wait for it. */
  stats(): PoolStats {
    return { total: 1, idle: this.#busy ? 0 : 1, waiting: this.#statements.length + this.#transactions.length };
  }

  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this.#started;
    } catch {
      return; // it never started: there is nothing to close
    }
    if (this.#busy) await new Promise<void>((resolve) => this.#onIdle.push(resolve));
    await this.#pglite.close();
  }
}

/** How Kysely opens a transaction (`begin`, or `start transaction` with an isolation level or access mode). */
const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const SELECT = /^\s*select\b/i;

/** Connections of a store's pool: open, idle among them, and checkouts waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** PostgreSQL's int8 type: parsed as JS numbers on both stores (ids, counts); our ids stay far below 2^53. */
export const INT8_OID = 20;
