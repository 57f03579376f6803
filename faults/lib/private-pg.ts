/**
 * A PostgreSQL cluster of the harness's own, to restart and kill at will (never the shared server
 * of FAULTS_PG_URL): initdb + pg_ctl from PG_BIN (default /usr/lib/postgresql/15/bin), run as the
 * OS user `postgres` through runuser when we are root, data in a temp directory, a free port.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../test/helpers/processes.js';

const exec = promisify(execFile);
const PG_BIN = process.env['FAULTS_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

export interface PrivateCluster {
  url: string;
  port: number;
  /** Clean stop (sessions ended with 57P01), then start again. */
  restart(): Promise<void>;
  /** pg_ctl stop -m immediate (as a crash: recovery from WAL on the next start). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster and removes its directory. */
  destroy(): Promise<void>;
}

const live = new Set<PrivateCluster>();

/** Stops every cluster still running (on exit paths of the harness). */
export async function destroyAllClusters(): Promise<void> {
  for (const cluster of [...live]) await cluster.destroy().catch(() => undefined);
}

async function asPostgres(file: string, args: string[]): Promise<void> {
  const root = userInfo().uid === 0;
  await exec(root ? 'runuser' : file, root ? ['-u', 'postgres', '--', file, ...args] : args, { timeout: 120_000 });
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sideline-faults-pg-'));
  const pgUser = userInfo().uid === 0 ? await exec('id', ['-u', 'postgres']).then((r) => Number(r.stdout.trim())) : null;
  if (pgUser !== null) chownSync(dir, pgUser, pgUser);
  const data = join(dir, 'data');
  const port = await freePort();
  await asPostgres(join(PG_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
  const ctl = (args: string[]) => asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', data, ...args]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100`;
  let running = false;
  const cluster: PrivateCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await ctl(['-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
      running = true;
    },
    async restart() {
      await ctl(['-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
      await cluster.start();
    },
    async kill() {
      await ctl(['-m', 'immediate', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async destroy() {
      live.delete(cluster);
      if (running) await ctl(['-m', 'immediate', '-w', '-t', '60', 'stop']).catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(cluster);
  await cluster.start();
  return cluster;
}
