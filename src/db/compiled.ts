import { CompiledQuery, type Compilable } from 'kysely';
import type { Executor } from './executor.js';

/**
 * A hot query built and compiled by Kysely once; each call only binds its values.
 *
 * Building a query (parsing references, freezing operation nodes, compiling to SQL) costs more
 * node CPU than sending it on the hottest read paths. `build` is run once (with the first caller's
 * database handle; the SQL does not depend on it), with a marker object
 * for each argument; the markers' places among the compiled parameters say where each call's
 * values go. Values that are not arguments (constants in the query) stay as compiled.
 */
export function compileOnce<Args extends unknown[], Row>(
  build: (db: Executor, ...args: Args) => Compilable<Row>,
  arity: Args['length'],
): (db: Executor, ...args: Args) => Promise<Row[]> {
  let compiled: { sql: string; slots: Array<{ arg: number } | { value: unknown }> } | undefined;
  const compile = (db: Executor) => {
    const markers = Array.from({ length: arity }, (_, i) => ({ compileOnceArgument: i }));
    const query = build(db, ...(markers as unknown as Args)).compile();
    const slots = query.parameters.map((value) => {
      const arg = markers.indexOf(value as (typeof markers)[number]);
      return arg >= 0 ? { arg } : { value };
    });
    const used = new Set(slots.flatMap((s) => ('arg' in s ? [s.arg] : [])));
    // An argument Kysely transformed or inlined would be silently dropped: refuse at once instead.
    if (used.size !== arity) throw new Error(`compileOnce: ${arity - used.size} argument(s) did not become parameters of: ${query.sql}`);
    return { sql: query.sql, slots };
  };
  return async (db, ...args) => {
    compiled ??= compile(db);
    const parameters = compiled.slots.map((slot) => ('arg' in slot ? args[slot.arg] : slot.value));
    const result = await db.executeQuery<Row>(CompiledQuery.raw(compiled.sql, parameters));
    return result.rows;
  };
}
