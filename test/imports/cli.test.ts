/**
 * `sideline import-from` as an operator runs it: a real process, killed (SIGKILL) in the middle of
 * the side conversations and run again, ends with the target identical to the source. Off a
 * terminal it prints plain progress lines and the summary.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/app.js';
import { appOptionsFor } from '../../src/runtime.js';
import { openStore } from '../../src/db/store.js';
import { basic, countRows, createTempDatabase, startTestApp, STORE_KIND, testConfig, type TestApp } from '../helpers/app.js';
import { assertSameAccount, seedSource, snapshot, type SeededSource } from '../helpers/migration.js';
import { runSideline } from '../helpers/processes.js';

const ADMIN = { email: 'admin@example.com', password: 'target admin password' };

describe(`sideline import-from, the command (${STORE_KIND})`, () => {
  let source: TestApp;
  let seeded: SeededSource;
  let dataDir: string;
  let database: { url: string; drop(): Promise<void> } | null = null;

  before(async () => {
    source = await startTestApp();
    seeded = await seedSource(source, 12);
    dataDir = await mkdtemp(join(tmpdir(), 'sideline-import-'));
    const serverUrl = process.env['DATABASE_URL'];
    if (serverUrl) database = await createTempDatabase(serverUrl, 'sideline_import_cli');
  });
  after(async () => {
    await source.close();
    await rm(dataDir, { recursive: true, force: true });
    await database?.drop();
  });

  const env = () => ({
    DATA_DIR: dataDir,
    SIDELINE_ADMIN_EMAIL: ADMIN.email,
    SIDELINE_ADMIN_PASSWORD: ADMIN.password,
    ...(database ? { DATABASE_URL: database.url } : {}),
  });

  it('killed in the middle and run again, the target ends identical to the source', async () => {
    // The target's account and admin, as a first `serve` (or create-token) makes them.
    const bootstrap = runSideline('create-token', ['create-token', '--email', ADMIN.email], env());
    assert.equal(await bootstrap.exited, 0, bootstrap.output());

    // A proxy in front of the source holds back the events of the fifth side conversation: the run is killed there.
    const upstream = new URL(seeded.url);
    let eventLists = 0;
    let onFifth: (() => void) | null = null;
    const proxy = http.createServer((req, res) => {
      if (/\/side_conversations\/[^/]+\/events/.test(req.url ?? '') && ++eventLists === 5 && onFifth) {
        onFifth();
        return; // never answered: the process dies waiting
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const args = ['import-from', proxyUrl, '--email', seeded.email];
      const first = runSideline('import-from', args, { ...env(), SIDELINE_IMPORT_TOKEN: seeded.token });
      const killed = new Promise<void>((resolve) => (onFifth = () => { first.kill('SIGKILL'); resolve(); }));
      await Promise.race([killed, first.exited]);
      assert.equal(await first.exited, 'SIGKILL', `killed midway, not finished:\n${first.output()}`);
      onFifth = null;

      const second = runSideline('import-from', args, { ...env(), SIDELINE_IMPORT_TOKEN: seeded.token });
      const code = await second.exited;
      const output = second.output();
      assert.equal(code, 0, output);
      assert.match(output, /^Importing from http:\/\/127\.0\.0\.1:\d+ into the account/m);
      assert.match(output, /^tickets: \[#+\.*\] \d+\/\d+ /m, 'plain progress lines off a terminal');
      assert.match(output, /Import finished\./);
      assert.match(output, new RegExp(`tickets\\s+0 imported, ${seeded.counts.tickets} skipped`), 'the tickets came over before the kill');
      assert.match(output, /side conversations\s+\d+ imported, 4 skipped/, 'the four conversations before the kill are not imported twice');
      assert.match(output, /tickets were read by paging \/api\/v2\/tickets/);
      assert.match(output, /failed: 0/);
      assert.doesNotMatch(output, new RegExp(seeded.token), 'the token is never printed');
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }

    // The target, read through its own API.
    const store = await openStore(database ? { databaseUrl: database.url } : { dataDir });
    try {
      const app = await buildApp(appOptionsFor(testConfig(database ? { attachmentStore: 'database' } : { attachmentStore: 'disk', dataDir }), store));
      await app.ready();
      const target = { request: (o: Parameters<TestApp['request']>[0]) => app.inject({ ...o, headers: { ...(o.headers ?? {}), authorization: basic(ADMIN.email, ADMIN.password) } }) };
      assertSameAccount(await snapshot(target), await snapshot(source));
      assert.equal(await countRows(store.db, 'side_conversations'), seeded.counts.sideConversations);
      await app.close();
    } finally {
      await store.close();
    }
  });

  it('says what it needs when the source or the credentials are missing', async () => {
    const run = runSideline('import-from', ['import-from', 'http://127.0.0.1:9'], env());
    assert.equal(await run.exited, 1);
    assert.match(run.output(), /import-from needs the source URL, --email and --token/);
  });
});
