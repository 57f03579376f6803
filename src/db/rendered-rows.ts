/**
 * Rows as the API shows them (their JSON), each kept under the version of the row it was
 * rendered from, and served again only while the database still reports that version.
 *
 * Why it is safe on any store and with any number of processes: a read asks the database for the
 * current versions of the rows it needs (the `xmin` of each row version — the transaction that
 * wrote it, which every committed update, insert or delete of a row changes) and takes a rendering
 * only where the version matches. Nothing has to hear of a write: a write elsewhere makes a new
 * version, and the old rendering simply stops matching. What it saves is the rest of a read: the
 * full rows parsed, their timestamps formatted and their JSON serialised.
 */
export class RenderedRows {
  #entries = new Map<string, { version: string; json: string }>();
  readonly #maxEntries: number;

  constructor(maxEntries = 20_000) {
    this.#maxEntries = maxEntries;
  }

  /** The JSON kept for `key` if it was rendered from `version`. */
  get(key: string, version: string): string | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.version === version ? entry.json : undefined;
  }

  set(key: string, version: string, json: string): void {
    // Oldest first out: a Map iterates in insertion order, and an entry set again moves to the end.
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { version, json });
  }
}

export type Rendered = Pick<RenderedRows, 'get' | 'set'>;

/** Keeps nothing: every read renders (the bench measures what a read costs when nothing is kept). */
export const NO_RENDERED_ROWS: Rendered = {
  get: () => undefined,
  set: () => undefined,
};
