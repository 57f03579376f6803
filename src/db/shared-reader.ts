import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { StatementNames } from './statement-names.js';

/**
 * One PostgreSQL connection that short reads share (Show's and List's row versions): every read
 * handed to it in one turn of the event loop leaves in one socket write, and the connection's
 * pipeline mode answers them in order, so 30 requests reading at once cost one write to the
 * server, one wake-up of its process and, mostly, one read back, instead of 30 of each. On a
 * 2-core host those wake-ups, not the queries, were most of a Show's time (`writev` was 33% of the
 * server's profile), and this measured 1.5–2× the Show throughput of pooled connections.
 *
 * Only for short single-statement reads outside transactions: a slow query would hold up every read
 * queued behind it on the one connection, and nothing here may set session state. Each query is
 * still its own statement with its own Sync, so one failing does not fail the others. A lost
 * connection fails the reads in flight on it (answered 503, as a lost pooled connection is) and the
 * next read opens a new one.
 */
export class SharedReader implements PostgresPool {
  readonly #open: () => pg.Client;
  #client: Promise<pg.Client> | null = null;
  readonly #names = new StatementNames();
  /** The socket held back until the end of this turn of the event loop, if any. */
  #heldBack: { uncork(): void } | null = null;
  #ended = false;

  constructor(open: () => pg.Client) {
    this.#open = open;
  }

  #connected(): Promise<pg.Client> {
    if (this.#ended) return Promise.reject(new Error('Client was closed'));
    if (this.#client) return this.#client;
    const client = this.#open();
    const connecting = client.connect().then(() => client);
    const forget = () => {
      if (this.#client === connecting) this.#client = null;
    };
    // A lost server ends the client for good: its reads in flight fail, the next one reconnects.
    client.on('error', forget);
    client.on('end', forget);
    connecting.catch(forget);
    this.#client = connecting;
    return connecting;
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.#connected();
    const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
    return {
      query: <R>(text: string, values: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
        if (this.#heldBack !== stream) {
          stream.cork();
          this.#heldBack = stream;
          // After this turn's I/O callbacks: every read they started leaves in this one write.
          setImmediate(() => {
            if (this.#heldBack === stream) this.#heldBack = null;
            stream.uncork();
          });
        }
        const name = this.#names.nameOf(text);
        return client.query(name === undefined ? { text, values: [...values] } : { name, text, values: [...values] }) as unknown as Promise<PostgresQueryResult<R>>;
      },
      // Shared: nothing to give back.
      release: () => undefined,
    } as PostgresPoolClient;
  }

  async end(): Promise<void> {
    this.#ended = true;
    const connecting = this.#client;
    this.#client = null;
    const client = await connecting?.catch(() => null);
    await client?.end();
  }
}
