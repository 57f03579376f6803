import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { StatementNames } from './statement-names.js';

/** What opens a transaction (Kysely sends `begin`, or `start transaction …` with settings). */
const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;

/** What a transaction's end looks like (Kysely sends `commit` and `rollback`). */
const TRANSACTION_COMMIT = /^\s*commit\s*$/i;
const TRANSACTION_ROLLBACK = /^\s*rollback\s*$/i;

/** While `writeTogether` runs, the uncorks it owes the sockets it held back. */
let heldBack: Set<() => void> | null = null;

/** While `sendWithCommit` runs: the statement sent is its transaction's last, and COMMIT follows it. */
let commitBehind = false;

/**
 * Runs `send` (which hands one statement to a transaction's connection synchronously) so that the
 * statement's transaction commits right behind it: `COMMIT` leaves in the same write, and the
 * statement's answer waits for the commit's (a failed commit fails the statement). The transaction's
 * own `commit` afterwards is answered at once. Only for a statement after which the transaction
 * does nothing but commit: a statement sent after it is refused (it would run outside the
 * transaction), and an error thrown after it can no longer undo it. Elsewhere (PGlite, a client
 * without pipelining) nothing changes: the transaction commits as usual.
 */
export function sendWithCommit<T>(send: () => T): T {
  commitBehind = true;
  try {
    return send();
  } finally {
    commitBehind = false;
  }
}

/**
 * Runs `send` (which hands statements to connections synchronously, without waiting) and writes
 * what it sent on each connection in one write.
 */
export function writeTogether<T>(send: () => T): T {
  if (heldBack) return send();
  const releases = new Set<() => void>();
  heldBack = releases;
  try {
    return send();
  } finally {
    heldBack = null;
    for (const release of releases) release();
  }
}

/**
 * node-postgres under Kysely, with every data statement prepared once per connection (which ones:
 * statement-names.ts): a Show then costs the server a bind and an execute.
 *
 * A transaction's `begin` is not sent on its own: it is answered at once and written to the socket
 * with the statement that follows it, in one write, on a client in pipeline mode (store.ts), which
 * sends a query without waiting for the one before to finish. A write transaction then costs one
 * round trip fewer (on a 2-core host every round trip also wakes both processes once). If the
 * `begin` fails, that statement reports its error (PostgreSQL runs the two in order, so a statement
 * never runs outside the transaction it was meant for: a failed `begin` means a lost connection).
 *
 * Statements sent inside `writeTogether` (send-together.ts: a lock and the read behind it) leave in
 * that same write too. Only there: holding every statement back to the next tick measured slower
 * (each write then waits behind whatever else the event loop has queued).
 */
export class PreparedStatementPool implements PostgresPool {
  readonly #pool: pg.Pool;
  readonly #names = new StatementNames();
  /** One wrapper per pg client, so Kysely (which keys its connections by client) sees a stable object. */
  readonly #wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();

  /** The first error each client reported (its connection is gone), so release() destroys it. */
  readonly #lost = new WeakMap<pg.Client, Error>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    // pg-pool listens for errors on idle clients only: a client in use whose server goes away
    // (a restart, pg_terminate_backend) emits 'error' with nobody listening, which ends the
    // process. We listen for each client's whole life, from the moment it connects; its pending
    // or next query fails instead, and on release the client is destroyed, not handed out again.
    pool.on('connect', (client) => {
      client.on('error', (error: Error) => {
        if (!this.#lost.has(client)) this.#lost.set(client, error);
      });
    });
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.#pool.connect();
    const known = this.#wrappers.get(client);
    if (known) return known;
    // A transaction's start, written with the statement after it (see the class comment).
    let begun: Promise<unknown> | null = null;
    const stream = (client as unknown as { connection?: { stream?: { cork?(): void; uncork?(): void } } }).connection?.stream;
    const socket = stream?.cork && stream.uncork ? (stream as { cork(): void; uncork(): void }) : undefined;
    // The COMMIT sent behind a transaction's last statement (sendWithCommit), until the transaction ends.
    let committed: Promise<unknown> | null = null;
    // Whether this client's writes are being held back (corked once, uncorked once).
    let corked = false;
    const cork = (): void => {
      if (corked || !socket) return;
      corked = true;
      socket.cork();
    };
    const uncork = (): void => {
      if (!corked) return;
      corked = false;
      socket!.uncork();
    };
    const wrapper = {
      query: <R>(text: string, values: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
        if (begun === null && values.length === 0 && socket && TRANSACTION_START.test(text)) {
          cork();
          begun = client.query(text);
          // Its failure is the next statement's to report (below); never an unhandled rejection.
          begun.catch(() => undefined);
          return Promise.resolve({ command: 'BEGIN', rowCount: null, rows: [] } as unknown as PostgresQueryResult<R>);
        }
        if (committed !== null && values.length === 0 && TRANSACTION_COMMIT.test(text)) {
          // Already sent, and answered before the last statement was: what it answered is the commit's.
          const commit = committed;
          committed = null;
          return commit as Promise<PostgresQueryResult<R>>;
        }
        if (committed !== null) {
          if (values.length > 0 || !TRANSACTION_ROLLBACK.test(text)) {
            return Promise.reject(new Error('a statement was sent after its transaction\'s last statement, which committed it'));
          }
          // A rollback after the commit (the last statement or its commit failed, or the caller threw
          // after it): sent as asked; PostgreSQL answers it with a warning when the transaction is over.
          committed = null;
        }
        const name = this.#names.nameOf(text);
        const config = name === undefined ? { text, values: [...values] } : { name, text, values: [...values] };
        const commits = commitBehind && socket !== undefined;
        if (heldBack || commits) cork();
        const result = client.query(config) as unknown as Promise<PostgresQueryResult<R>>;
        const pending: Promise<unknown>[] = [result];
        if (commits) {
          const commit = client.query('commit');
          commit.catch(() => undefined);
          committed = commit;
          pending.push(commit);
        }
        // Held back inside writeTogether until it returns; otherwise written now, with a begin held before it.
        if (heldBack) heldBack.add(uncork);
        else uncork();
        if (begun !== null) {
          pending.push(begun);
          begun = null;
        }
        if (pending.length === 1) return result;
        return Promise.all(pending).then(() => result);
      },
      release: () => {
        committed = null;
        client.release(this.#lost.get(client));
      },
    } as PostgresPoolClient;
    this.#wrappers.set(client, wrapper);
    return wrapper;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }
}
