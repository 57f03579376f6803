import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { StatementNames } from './statement-names.js';

/**
 * node-postgres under Kysely, with every data statement prepared once per connection (which ones:
 * statement-names.ts): a Show then costs the server a bind and an execute.
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
    const wrapper = {
      query: <R>(text: string, values: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
        const name = this.#names.nameOf(text);
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
}
