import { sql, type Compilable, type OperationNodeSource, type RawBuilder } from 'kysely';
import type { Executor } from './executor.js';
import { sendLast } from './send-together.js';

/** A part of a OneStatement: its CTE name (a later part may read its RETURNING by it), and its rows once run. */
export interface StatementPart<Row> {
  readonly name: string;
  /** The rows its RETURNING gave, in no particular order. Throws before the statement has run. */
  rows(): Row[];
  /** A scalar subquery of one of its returned columns, for a later part: `(SELECT "id" FROM "s3")`. */
  column(name: keyof Row & string): RawBuilder<unknown>;
}

type Query = Compilable & OperationNodeSource;

interface Part {
  name: string;
  query: Query;
  returns: boolean;
  timestamps: readonly string[];
  rows?: Record<string, unknown>[];
}

/**
 * Writes that commit together, sent as one statement: each part is a data-modifying CTE
 * (`WITH s0 AS (INSERT … RETURNING …), s1 AS (…) SELECT …`), and what the parts return comes back
 * in the statement's one row, a JSON array per part. A write that was ten statements (and ten
 * round trips, each costing both processes a wake-up) becomes one.
 *
 * What PostgreSQL guarantees here: every part runs, whether or not it is read; the parts share one
 * snapshot, so a part sees another's rows only by reading its RETURNING by name (`column()`);
 * foreign keys and AFTER triggers are checked at the end of the whole statement, so a child row
 * may reference a parent written by an earlier part, and the event feed's triggers see them all.
 * A part's error fails the statement, which leaves nothing written (the caller's transaction
 * decides the rest).
 */
export class OneStatement {
  readonly #parts: Part[] = [];
  #ran = false;

  /**
   * Adds a write. `timestamps`: the returned columns that are timestamps, turned back into Dates
   * (JSON carries them as text; every other column type comes back as the drivers give it, int8 as a number).
   */
  add<Row>(query: Compilable<Row> & OperationNodeSource, options: { returns?: boolean; timestamps?: readonly (keyof Row & string)[] } = {}): StatementPart<Row> {
    if (this.#ran) throw new Error('OneStatement: a part was added after the statement ran');
    const part: Part = { name: `s${this.#parts.length}`, query, returns: options.returns ?? true, timestamps: options.timestamps ?? [] };
    this.#parts.push(part);
    return {
      name: part.name,
      rows: () => {
        if (!part.rows) throw new Error(`OneStatement: part ${part.name} was read before the statement ran`);
        return part.rows as Row[];
      },
      column: (column) => sql`(select ${sql.ref(column)} from ${sql.table(part.name)})`,
    };
  }

  get size(): number {
    return this.#parts.length;
  }

  /**
   * Sends the statement (nothing when no part was added); afterwards each part's rows() answers.
   * `endsTransaction`: nothing follows it in its transaction, whose COMMIT may then leave with it (sendLast).
   */
  async run(db: Executor, options: { endsTransaction?: boolean } = {}): Promise<void> {
    if (this.#ran) throw new Error('OneStatement: run twice');
    this.#ran = true;
    if (this.#parts.length === 0) return;
    const ctes = sql.join(
      this.#parts.map((p) => sql`${sql.table(p.name)} as (${p.query})`),
      sql`, `,
    );
    const returning = this.#parts.filter((p) => p.returns);
    const results =
      returning.length === 0
        ? sql`1 as none`
        : sql.join(
            returning.map((p) => sql`(select coalesce(json_agg(${sql.table(p.name)}), '[]'::json) from ${sql.table(p.name)}) as ${sql.ref(p.name)}`),
            sql`, `,
          );
    const query = sql<Record<string, Record<string, unknown>[]>>`with ${ctes} select ${results}`;
    const rows = options.endsTransaction ? await sendLast(db, query.compile(db)) : (await query.execute(db)).rows;
    const row = rows[0] ?? {};
    for (const part of this.#parts) {
      const parsed = part.returns ? (row[part.name] ?? []) : [];
      for (const record of parsed) {
        for (const column of part.timestamps) {
          const value = record[column];
          if (typeof value === 'string') record[column] = new Date(value);
        }
      }
      part.rows = parsed;
    }
  }
}
