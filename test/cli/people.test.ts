import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSideline, startServer, type ServerProcess } from '../helpers/server.js';
import { createTempDatabase } from '../helpers/app.js';

const ADMIN = { SIDELINE_ADMIN_EMAIL: 'owner@example.com', SIDELINE_ADMIN_PASSWORD: 'the-first-admin-password' };
const basicAuth = (email: string, password: string) => `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;

/** GET /api/v2/users/me with a chosen Host (fetch may not set one). */
function meStatus(server: ServerProcess, auth: string, host?: string): Promise<number> {
  const url = new URL('/api/v2/users/me', server.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: auth, ...(host ? { host } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function run(args: string[], env: Record<string, string>): Promise<{ code: unknown; output: string }> {
  const cli = runSideline(args, env);
  const code = await cli.exited;
  return { code, output: cli.output() };
}

async function stop(server: ServerProcess): Promise<void> {
  server.proc.kill('SIGTERM');
  await server.exited;
}

describe('reset-password and create-account on the embedded store', () => {
  it('work while the server is stopped, say so while it runs; a stale SIDELINE_ADMIN_PASSWORD is warned about', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sideline-people-'));
    const env = { DATA_DIR: dir, DATABASE_URL: '', ...ADMIN };
    try {
      assert.equal((await run(['create-token', '--email', ADMIN.SIDELINE_ADMIN_EMAIL], env)).code, 0); // bootstraps the account
      const generated = await run(['reset-password', '--email', 'OWNER@example.com'], env);
      assert.equal(generated.code, 0, generated.output);
      const printed = /New password \(shown only now\): (\S+)/.exec(generated.output);
      assert.ok(printed && printed[1]!.length >= 16, generated.output);
      const account = await run(['create-account', '--subdomain', 'acme', '--admin-email', 'boss@acme.example', '--name', 'Acme Inc'], env);
      assert.equal(account.code, 0, account.output);
      const acmePassword = /password: (\S+)/.exec(account.output)?.[1];
      assert.ok(acmePassword, account.output);
      const server = await startServer(env);
      try {
        assert.match(server.output(), /SIDELINE_ADMIN_PASSWORD is set but was not applied/);
        assert.equal(await meStatus(server, basicAuth(ADMIN.SIDELINE_ADMIN_EMAIL, printed[1]!)), 200);
        assert.equal(await meStatus(server, basicAuth(ADMIN.SIDELINE_ADMIN_EMAIL, ADMIN.SIDELINE_ADMIN_PASSWORD)), 401);
        assert.equal(await meStatus(server, basicAuth('boss@acme.example', acmePassword), 'acme.localhost'), 200);
        assert.equal(await meStatus(server, basicAuth('boss@acme.example', acmePassword)), 401);

        const locked = await run(['reset-password', '--email', ADMIN.SIDELINE_ADMIN_EMAIL], env);
        assert.equal(locked.code, 1);
        assert.match(locked.output, /reset-password on the embedded store needs the server stopped/);
        assert.ok(!locked.output.includes('New password'), locked.output);
      } finally {
        await stop(server);
      }
      assert.ok(!server.output().includes(printed[1]!), 'the new password never reaches the server log');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reset-password on PostgreSQL', { skip: !process.env['DATABASE_URL'] && 'needs DATABASE_URL' }, () => {
  it('works while a server runs: the new password signs in and the old one is refused within a second', async () => {
    const database = await createTempDatabase(process.env['DATABASE_URL']!, 'sideline_people_cli');
    const env = { DATABASE_URL: database.url, ...ADMIN };
    const server = await startServer(env);
    try {
      const oldAuth = basicAuth(ADMIN.SIDELINE_ADMIN_EMAIL, ADMIN.SIDELINE_ADMIN_PASSWORD);
      assert.equal(await meStatus(server, oldAuth), 200); // cached by the server
      const reset = await run(['reset-password', '--email', ADMIN.SIDELINE_ADMIN_EMAIL, '--password', 'reset while running'], env);
      assert.equal(reset.code, 0, reset.output);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      assert.equal(await meStatus(server, oldAuth), 401);
      assert.equal(await meStatus(server, basicAuth(ADMIN.SIDELINE_ADMIN_EMAIL, 'reset while running')), 200);
    } finally {
      await stop(server);
      await database.drop();
    }
  });
});
