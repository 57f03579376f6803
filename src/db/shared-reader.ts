import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import { StatementNames } from './statement-names.js';

/** The one connection as Kysely is handed it, and what closes it. */
type SharedConnection = PostgresPoolClient & { end(): Promise<void> };

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
  #client: Promise<SharedConnection> | null = null;
  readonly #names = new StatementNames();
  /** The socket held back until the end of this turn of the event loop, if any. */
  #heldBack: { uncork(): void } | null = null;
  #ended = false;

  constructor(open: () => pg.Client) {
    this.#open = open;
  }

  /** The connection, opened when first asked for, and the one wrapper Kysely is handed for it. */
  #connected(): Promise<SharedConnection> {
    if (this.#ended) return Promise.reject(new Error('Client was closed'));
    if (this.#client) return this.#client;
    const client = this.#open();
    const connecting = client.connect().then(() => this.#wrap(client));
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

  /**
   * One wrapper per connection, made once: Kysely keeps a connection object per client it is
   * handed, so a new wrapper per read would cost it a new one each time.
   */
  #wrap(client: pg.Client): SharedConnection {
    const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
    const uncork = () => {
      if (this.#heldBack === stream) this.#heldBack = null;
      stream.uncork();
    };
    return {
      query: <R>(text: string, values: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> => {
        if (this.#heldBack !== stream) {
          stream.cork();
          this.#heldBack = stream;
          // After this turn's I/O callbacks: every read they started leaves in this one write.
          setImmediate(uncork);
        }
        const name = this.#names.nameOf(text);
        return client.query(name === undefined ? { text, values: [...values] } : { name, text, values: [...values] }) as unknown as Promise<PostgresQueryResult<R>>;
      },
      // Shared: nothing to give back.
      release: () => undefined,
      end: () => client.end(),
    } as SharedConnection;
  }

  connect(): Promise<PostgresPoolClient> {
    return this.#connected();
  }

  async end(): Promise<void> {
    this.#ended = true;
    const connecting = this.#client;
    this.#client = null;
    const connection = await connecting?.catch(() => null);
    await connection?.end();
  }
}
