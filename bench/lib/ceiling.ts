/**
 * The stack's ceiling for a workload (issue: measure against the real limit): bare Fastify answering
 * a body of the same size (a), and pgbench running the database work the workload must do at least
 * (b, bench/pgbench/*.sql, prepared statements), at the same client counts. A request needs both,
 * so the ceiling is 1 / (1/a + 1/b).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './processes.js';
import { PG_SERVER_URL } from './stores.js';

const run = promisify(execFile);

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  failed: number;
}

/** Runs bench/pgbench/<script> for `seconds` with `clients` connections (prepared statements). */
export async function pgbench(database: string, script: string, vars: Record<string, string | number>, clients: number, seconds: number): Promise<PgbenchResult> {
  const server = new URL(PG_SERVER_URL);
  const args = [
    '-h', server.hostname, '-p', server.port || '5432', '-U', decodeURIComponent(server.username || 'postgres'),
    '-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds),
    '-f', join(ROOT, 'bench', 'pgbench', script),
    ...Object.entries(vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    database,
  ];
  const { stdout } = await run('pgbench', args, { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PGPASSWORD: decodeURIComponent(server.password) } });
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  const latency = /latency average = ([\d.]+) ms/.exec(stdout);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
  return { tps: Number(tps[1]), latencyMs: latency ? Number(latency[1]) : Number.NaN, failed: failed ? Number(failed[1]) : 0 };
}

/** Requests/s no server on this stack can beat: the HTTP part and the database part in series. */
export function stackCeiling(httpPerSecond: number, databasePerSecond: number): number {
  return 1 / (1 / httpPerSecond + 1 / databasePerSecond);
}

/** Whether pgbench is on PATH (it ships with PostgreSQL); null when it is, else why not. */
export async function pgbenchMissing(): Promise<string | null> {
  try {
    await run('pgbench', ['--version']);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
