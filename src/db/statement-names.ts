/**
 * Which statements are prepared once and run by name, on both stores (prepared-pool.ts for
 * PostgreSQL, pglite-statements.ts for the embedded store).
 *
 * Kysely sends the same SQL text for the same query shape, so naming each distinct text lets
 * PostgreSQL skip parsing and planning after its first use. Only data statements are named (DDL and
 * transaction control run as they are), and the number of names is bounded, so a query built with
 * a variable number of placeholders cannot grow the server's statement cache without limit.
 */
const MAX_NAMED_STATEMENTS = 2_000;
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

export class StatementNames {
  readonly #names = new Map<string, string>();
  #made = 0;

  /** The name of `text`, made on its first use; undefined: run it unnamed. */
  nameOf(text: string): string | undefined {
    const known = this.#names.get(text);
    if (known !== undefined || !PREPARABLE.test(text)) return known;
    if (this.#names.size >= MAX_NAMED_STATEMENTS) return undefined;
    this.#made += 1;
    const name = `sideline_${this.#made}`;
    this.#names.set(text, name);
    return name;
  }

  /** Forgets `text`'s name (its preparation failed), so its next use prepares it again under a new name. */
  forget(text: string): void {
    this.#names.delete(text);
  }
}
