/**
 * Statements on one PGlite instance, each in one call into PostgreSQL. PGlite's own query() makes
 * six calls for every statement (parse, describe, bind, describe, execute, sync: each a pass
 * through the WebAssembly backend and its message parsing) and parses and analyses the SQL text
 * every time. Here a data statement is prepared once under a name (statement-names.ts, as on
 * PostgreSQL), and each later run sends bind, describe, execute and sync in one message; BEGIN,
 * COMMIT and ROLLBACK go as one simple query. Anything else (DDL, and texts past the bound on
 * names) goes through query() as before.
 */
import { parse, protocol, type PGlite } from '@electric-sql/pglite';
import { StatementNames } from './statement-names.js';

export interface StatementResult {
  rows: unknown[];
  affectedRows: number | undefined;
  command: string | undefined;
}

export type RunStatement = (sql: string, params: unknown[]) => Promise<StatementResult>;

const { serialize } = protocol;
const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback)\s*;?\s*$/i;

function joined(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function preparedStatements(pglite: PGlite): RunStatement {
  const names = new StatementNames();
  /** The parameter types of each prepared statement, by name (what its values are serialised as). */
  const parameterTypes = new Map<string, number[]>();
  // execProtocol is not queued behind PGlite's own query(), listen() and transactions; this is.
  const exchange = (parts: Uint8Array[]) => pglite.runExclusive(() => pglite.execProtocol(joined(parts))).then((result) => result.messages);
  const resultOf = (messages: Awaited<ReturnType<typeof exchange>>): StatementResult => {
    const result = parse.parseResults(messages, pglite.parsers).at(-1);
    return { rows: result?.rows ?? [], affectedRows: result?.affectedRows, command: result?.command };
  };

  return async (sql, params) => {
    if (params.length === 0 && TRANSACTION_CONTROL.test(sql)) return resultOf(await exchange([serialize.query(sql)]));
    const name = names.nameOf(sql);
    if (name === undefined) {
      const result = await pglite.query(sql, params);
      return { rows: result.rows, affectedRows: result.affectedRows, command: result.command };
    }
    let types = parameterTypes.get(name);
    if (types === undefined) {
      try {
        const described = await exchange([serialize.parse({ name, text: sql }), serialize.describe({ type: 'S', name }), serialize.sync()]);
        const description = described.find((m) => m.name === 'parameterDescription') as { dataTypeIDs?: number[] } | undefined;
        types = description?.dataTypeIDs ?? [];
      } catch (error) {
        names.forget(sql); // not prepared (a syntax error, an aborted transaction): the next use tries again
        throw error;
      }
      parameterTypes.set(name, types);
    }
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = pglite.serializers[types[i] ?? 0];
      return serializer ? (serializer(value) as string) : String(value);
    });
    return resultOf(await exchange([serialize.bind({ statement: name, values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]));
  };
}
