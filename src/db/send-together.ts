import type { Compilable, CompiledQuery } from 'kysely';
import type { Executor } from './executor.js';
import { sendWithCommit, writeTogether } from './prepared-pool.js';

type RowsOf<Queries extends readonly Compilable<unknown>[]> = { [K in keyof Queries]: Queries[K] extends Compilable<infer Row> ? Row[] : never };

/**
 * Queries sent one behind the other on one connection, without waiting for each answer before
 * sending the next: one round trip for all of them. Kysely waits for a query's answer before it
 * sends the next on a transaction's connection; this hands them to the connection at once
 * (node-postgres in pipeline mode writes each immediately, PGlite's thread takes them in order).
 *
 * PostgreSQL still runs them in the order given, each as its own statement: under READ COMMITTED
 * each takes its own snapshot when it starts, so a read sent behind a `SELECT … FOR UPDATE` runs
 * once the lock is held and sees what the lock's previous holder committed. In a transaction, a
 * failed query aborts it and those behind fail too: the first failure is the one reported.
 */
export async function sendTogether<Queries extends readonly Compilable<unknown>[]>(db: Executor, ...queries: Queries): Promise<RowsOf<Queries>> {
  const compiled = queries.map((query) => query.compile());
  const executor = db.getExecutor();
  if (executor.plugins.length > 0) {
    // A plugin's transformResult runs in executeQuery only: send them one at a time then.
    const rows: unknown[][] = [];
    for (const query of compiled) rows.push((await executor.executeQuery(query as CompiledQuery<unknown>)).rows);
    return rows as RowsOf<Queries>;
  }
  return executor.provideConnection(async (connection) => {
    const sent = writeTogether(() => compiled.map((query) => connection.executeQuery(query)));
    // Every rejection is handled: the first is thrown below, the rest follow from it.
    for (const answer of sent) answer.catch(() => undefined);
    const rows: unknown[][] = [];
    for (const answer of sent) rows.push((await answer).rows);
    return rows as RowsOf<Queries>;
  });
}

/**
 * One query, the last of its transaction, with the transaction's COMMIT sent right behind it in the
 * same write (prepared-pool.ts's sendWithCommit): a write costs one round trip fewer. The caller
 * promises that its transaction does nothing after this query but commit; afterwards the
 * transaction's own commit is answered at once. Where the connection cannot (PGlite, a plugin that
 * must see the result), the query runs as usual and the transaction commits as usual.
 */
export async function sendLast<Row>(db: Executor, compiled: CompiledQuery<Row>): Promise<Row[]> {
  const executor = db.getExecutor();
  if (executor.plugins.length > 0) return (await executor.executeQuery(compiled)).rows as Row[];
  return executor.provideConnection(async (connection) => (await sendWithCommit(() => connection.executeQuery(compiled))).rows as Row[]);
}
