/** The messages between EmbeddedDatabase and its PGlite thread (pglite-worker.ts). */

export interface WorkerStart {
  /** The data directory's pgdata; unset: in memory. */
  dataDir: string | undefined;
  /** Start parameters added to PGlite's own. */
  startParams: string[];
}

export type WorkerRequest =
  /** `opener`: a transaction's begin, run first (EmbeddedDatabase.query). */
  | { id: number; op: 'query'; sql: string; params: unknown[]; opener?: string }
  | { id: number; op: 'listen'; channel: string }
  | { id: number; op: 'unlisten'; listenId: number }
  | { id: number; op: 'dump' }
  | { id: number; op: 'close' };

export interface QueryOutcome {
  rows: unknown[];
  affectedRows: number | undefined;
  command: string | undefined;
}

export type WorkerReply =
  | { started: true }
  | { started: false; error: Record<string, unknown> }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: Record<string, unknown> }
  /** A NOTIFY on the channel of the listen request `notify`. */
  | { notify: number; payload: string };
