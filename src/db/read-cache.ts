/**
 * Results of hot reads on the embedded store, kept until the next write of any kind.
 *
 * Why only there: PGlite runs inside this one process (the data directory is locked), and every
 * statement, ours or anybody's, passes through its single session — so this process sees every
 * write as it is made, and a copy it keeps can be dropped at exactly the right moment. With
 * PostgreSQL other processes write too, so nothing is cached and every read asks the database.
 *
 * Why it is safe: the store calls `written()` as a write statement is sent, while that statement's
 * transaction holds the session (no read runs until it commits or rolls back). That drops every
 * entry and every load in flight, and a load stores its result only if no write was sent since it
 * began — so a result read before a write can never be served after it, and a client that reads
 * after its own write always reads from the database.
 */
export class ReadCache {
  #generation = 0;
  #entries = new Map<string, unknown>();
  #loading = new Map<string, Promise<unknown>>();
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /** The value under `key`, loaded (once, however many ask at the same time) when absent. */
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#entries.has(key)) return Promise.resolve(this.#entries.get(key) as T);
    const pending = this.#loading.get(key);
    if (pending) return pending as Promise<T>;
    const generation = this.#generation;
    const loads = this.#loading;
    const loading = load().then(
      (value) => {
        if (loads.get(key) === loading) loads.delete(key);
        if (generation === this.#generation) this.#store(key, value);
        return value;
      },
      (error: unknown) => {
        if (loads.get(key) === loading) loads.delete(key);
        throw error;
      },
    );
    loads.set(key, loading);
    return loading;
  }

  /** A write statement is about to run: nothing read so far may be served again. */
  written(): void {
    this.#generation += 1;
    if (this.#entries.size > 0) this.#entries = new Map();
    if (this.#loading.size > 0) this.#loading = new Map();
  }

  #store(key: string, value: unknown): void {
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }
}

/** Reads go straight to the database (PostgreSQL: other processes write too). */
export const NO_READ_CACHE = {
  get<T>(_key: string, load: () => Promise<T>): Promise<T> {
    return load();
  },
};

export type Reads = Pick<ReadCache, 'get'>;
