import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

/** Distinct statement texts given a name; beyond it, texts run unnamed (parsed each time). */
const MAX_NAMED_STATEMENTS = 2_000;
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * node-postgres under Kysely, with every data statement prepared once per connection.
 *
 * Kysely sends the same SQL text for the same query shape, so naming each distinct text lets
 * PostgreSQL skip parsing and planning after a connection's first use of it: a Show then costs the
 * server a bind and an execute. Only data statements are named (DDL and transaction control run
 * as they are), and the number of names is bounded, so a query built with a variable number of
 * placeholders cannot grow the servers' statement caches without limit.
 */
export class PreparedStatementPool implements PostgresPool {
  readonly #pool: pg.Pool;
  readonly #names = new Map<string, string>();
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
    const wrapper = {
      query: <R>(text: string, values: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
        const name = this.#nameOf(text);
        const config = name === undefined ? { text, values: [...values] } : { name, text, values: [...values] };
        return client.query(config) as unknown as Promise<PostgresQueryResult<R>>;
      },
      release: () => client.release(this.#lost.get(client)),
    } as PostgresPoolClient;
    this.#wrappers.set(client, wrapper);
    return wrapper;
  }

  end(): Promise<void> {
    return this.#pool.end();
  }

  #nameOf(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known !== undefined || !PREPARABLE.test(text)) return known;
    if (this.#names.size >= MAX_NAMED_STATEMENTS) return undefined;
    const name = `sideline_${this.#names.size + 1}`;
    this.#names.set(text, name);
    return name;
  }
}
