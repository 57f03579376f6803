/**
 * `sideline backup` / `sideline restore` of the embedded store, as real processes: a backup of a
 * running server (through its control socket) with data written, restored into a new DATA_DIR, a
 * server started on it with the data there; the refusals (non-empty DATA_DIR, a running server,
 * PostgreSQL); a backup of a stopped store. The embedded store only: these run on either suite.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { freePort, runSideline, type ServerProcess } from '../helpers/server.js';
import { waitForOutput } from '../helpers/processes.js';
import { runBackup, runRestore } from '../../src/cli/backup.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openStore } from '../../src/db/store.js';

const ADMIN = { SIDELINE_ADMIN_EMAIL: 'owner@example.com', SIDELINE_ADMIN_PASSWORD: 'a-long-admin-password' };
const auth = `Basic ${Buffer.from(`${ADMIN.SIDELINE_ADMIN_EMAIL}:${ADMIN.SIDELINE_ADMIN_PASSWORD}`).toString('base64')}`;
const EMBEDDED = { DATABASE_URL: '', RELAY: 'off', ...ADMIN };

const root = mkdtempSync(join(tmpdir(), 'sl-bk-'));
const dir = (name: string) => join(root, name);
const configFor = (dataDir: string): Config => loadConfig({ DATA_DIR: dataDir });

/** A server on a free port, given time to start on a loaded machine (the shared helper allows 60 s; under load a start took 76 s). */
async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const server = runSideline(['serve'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
  if (!(await waitForOutput(server, /Server listening/, 480_000))) {
    server.kill('SIGKILL');
    await server.exited;
    throw new Error(`server did not start:\n${server.output()}`);
  }
  return server;
}

async function createTicket(server: ServerProcess, subject: string): Promise<number> {
  const res = await fetch(`${server.baseUrl}/api/v2/tickets`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ticket: { subject, comment: { body: 'x' } } }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { ticket: { id: number } }).ticket.id;
}

async function ticketStatus(server: ServerProcess, id: number): Promise<number> {
  const res = await fetch(`${server.baseUrl}/api/v2/tickets/${id}`, { headers: { authorization: auth } });
  await res.arrayBuffer();
  return res.status;
}

async function cli(args: string[], env: Record<string, string>): Promise<{ code: number | string | null; output: string }> {
  const child = runSideline(args, env);
  const code = await child.exited;
  return { code, output: child.output() };
}

describe('backup and restore of the embedded store', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('backs up a running server, restores into a new DATA_DIR, and a server started on it has the data', async () => {
    const backupFile = dir('live.tgz');
    const server = await startServer({ ...EMBEDDED, DATA_DIR: dir('a') });
    let kept = 0;
    let later = 0;
    try {
      kept = await createTicket(server, 'Written before the backup');
      const socket = statSync(join(dir('a'), 'sideline.sock'));
      assert.ok(socket.isSocket());
      assert.equal(socket.mode & 0o777, 0o600, 'only the owner may ask for a backup');

      const backup = await cli(['backup', '--to', backupFile], { ...EMBEDDED, DATA_DIR: dir('a') });
      assert.equal(backup.code, 0, backup.output);
      assert.match(backup.output, /from the running server/);
      assert.equal(statSync(backupFile).mode & 0o777, 0o600);
      assert.ok(!existsSync(`${backupFile}.partial`));
      // The server went on serving, and what it writes now is not in the copy.
      later = await createTicket(server, 'Written after the backup');

      await assert.rejects(runRestore(configFor(dir('a')), backupFile, true), /in use by another Sideline process/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.ok(!existsSync(join(dir('a'), 'sideline.sock')), 'the socket is removed at shutdown');

    await runRestore(configFor(dir('b')), backupFile, false, new PassThrough());
    await assert.rejects(runRestore(configFor(dir('b')), backupFile, false), /is not empty; stop the server and pass --force/);

    const restored = await startServer({ ...EMBEDDED, DATA_DIR: dir('b') });
    try {
      assert.equal(await ticketStatus(restored, kept), 200);
      assert.equal(await ticketStatus(restored, later), 404);
    } finally {
      await restored.stop();
    }
  });

  it('backs up a stopped store directly, and --force replaces a store', async () => {
    const file = dir('stopped.tgz');
    const out = new PassThrough();
    let said = '';
    out.on('data', (c: Buffer) => (said += c.toString()));
    await runBackup(configFor(dir('a')), file, out);
    assert.match(said, /from the stopped store/);
    await runRestore(configFor(dir('b')), file, true, out);
    const store = await openStore({ dataDir: dir('b') });
    try {
      // The stopped store of a/ had both tickets: the forced restore brought the later one too.
      const subjects = (await store.db.selectFrom('tickets').select('subject').execute()).map((t) => t.subject);
      assert.ok(subjects.includes('Written after the backup'), JSON.stringify(subjects));
    } finally {
      await store.close();
    }
  });

  it('refuses a file that is not a backup, a missing --to, and PostgreSQL (pointing at pg_dump / pg_restore)', async () => {
    writeFileSync(dir('junk.tgz'), 'not a tarball');
    await assert.rejects(runRestore(configFor(dir('c')), dir('junk.tgz'), false), /is not a Sideline backup/);
    assert.ok(!existsSync(join(dir('c'), 'pgdata')));
    await assert.rejects(runBackup(configFor(dir('a')), undefined), /backup needs --to FILE/);
    await assert.rejects(runBackup(configFor(dir('a')), join(dir('a'), 'inside.tgz')), /outside DATA_DIR/);
    await assert.rejects(runBackup(configFor(dir('nothing-here')), dir('none.tgz')), /there is no embedded store/);
    const postgres = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await assert.rejects(runBackup(postgres, dir('pg.tgz')), /pg_dump/);
    await assert.rejects(runRestore(postgres, dir('pg.tgz'), false), /pg_restore/);
  });
});
