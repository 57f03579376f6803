/**
 * `sideline import-from` (issue 15): a seeded Sideline, served over HTTP, migrated into an empty one
 * and compared through both APIs; a run stopped midway and started again; a source that answers
 * 429 and 500 and drops connections now and then, through a proxy at the network edge.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { assertSameAccount, migrateInto, seedSource, snapshot, type SeededSource } from '../helpers/migration.js';
import { SILENT } from '../../src/imports/migrate/migrate.js';
import { consoleProgress } from '../../src/imports/migrate/progress.js';

describe(`import-from: migrating a Sideline into another (${STORE_KIND})`, () => {
  let source: TestApp;
  let seeded: SeededSource;
  let expected: Record<string, unknown>;
  const targets: TestApp[] = [];

  before(async () => {
    source = await startTestApp();
    seeded = await seedSource(source, 50);
    expected = await snapshot(source);
    // The comparison is worth something only if the source holds every kind of history.
    const conversations = (expected['tickets'] as Array<{ side_conversations: Array<Record<string, unknown>> }>).flatMap((t) => t.side_conversations);
    const text = JSON.stringify(conversations);
    assert.equal(conversations.length, seeded.counts.sideConversations);
    assert.ok(conversations.some((c) => c['state'] === 'closed') && conversations.some((c) => c['state'] === 'open'));
    assert.match(text, /"slack_channel_id":"C0VENDORS"/);
    assert.match(text, /"targetTicketId":"ticket #\d+"/);
    assert.match(text, /"support_group_id":"Facilities"/);
    assert.match(text, /"sha256":"[0-9a-f]{64}"/);
    assert.match(text, /"type":"update"/);
  });
  after(async () => {
    for (const t of targets) await t.close();
    await source.close();
  });

  async function emptyTarget(): Promise<TestApp> {
    const t = await startTestApp();
    targets.push(t);
    return t;
  }

  it('brings users, groups, 50 tickets and their email, Slack and child-ticket side conversations over; both APIs then say the same', async () => {
    const target = await emptyTarget();
    const lines: string[] = [];
    const summary = await migrateInto(target, { url: seeded.url, email: seeded.email, token: seeded.token }, { progress: consoleProgress({ write: (s: string) => lines.push(s) > 0 }) });
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.ticketSource, 'paged', 'Sideline serves no incremental ticket export: the tickets are paged');
    assert.equal(summary.imported.tickets, seeded.counts.tickets);
    assert.equal(summary.imported.side_conversations, seeded.counts.sideConversations);
    assert.ok(summary.imported.attachments > 0 && summary.imported.events > summary.imported.side_conversations);
    assert.equal(summary.skipped.users, 1, 'the admin is matched by email');
    assertSameAccount(await snapshot(target), expected);
    // Nothing was delivered by the import: no outbox rows, no webhook invocations.
    assert.equal(await countRows(target.db, 'outbox'), 0);
    assert.equal(await countRows(target.db, 'webhook_invocations'), 0);
    // Plain lines off a terminal, ending with the summary.
    const text = lines.join('');
    assert.match(text, /side conversations: .*side conversations \d+/);
    assert.match(text, /Import finished\.\n/);
    assert.match(text, new RegExp(`side conversations\\s+${seeded.counts.sideConversations} imported`));
    assert.match(text, /failed: 0\n/);

    // Run again over the complete target: everything is skipped, nothing doubles.
    const again = await migrateInto(target, { url: seeded.url, email: seeded.email, token: seeded.token });
    assert.equal(again.imported.tickets + again.imported.side_conversations + again.imported.users, 0);
    assert.equal(again.skipped.side_conversations, seeded.counts.sideConversations);
    assertSameAccount(await snapshot(target), expected);
  });

  it('a run stopped midway and started again ends identical, with nothing doubled', async () => {
    const target = await emptyTarget();
    const stop = new AbortController();
    let imported = 0;
    const stopping = { ...SILENT, tick: (kind: string, outcome: string) => {
      if (kind === 'side_conversations' && outcome === 'imported' && ++imported === 7) stop.abort(new Error('killed'));
    } };
    await assert.rejects(migrateInto(target, { url: seeded.url, email: seeded.email, token: seeded.token, signal: stop.signal }, { progress: stopping, signal: stop.signal }), /killed/);
    const partial = await countRows(target.db, 'side_conversations');
    assert.ok(partial >= 7 && partial < seeded.counts.sideConversations, `stopped midway (${partial} of ${seeded.counts.sideConversations})`);
    const resumed = await migrateInto(target, { url: seeded.url, email: seeded.email, token: seeded.token });
    assert.deepEqual(resumed.failed, []);
    assert.equal(resumed.skipped.side_conversations, partial);
    assert.equal(resumed.imported.side_conversations, seeded.counts.sideConversations - partial);
    assert.equal(resumed.skipped.tickets, seeded.counts.tickets);
    assertSameAccount(await snapshot(target), expected);
  });

  it('--dry-run counts what it would bring and writes nothing', async () => {
    const target = await emptyTarget();
    const tables = ['users', 'tickets', 'side_conversations', 'side_conversation_events', 'attachments', 'import_checkpoints'] as const;
    const before = await Promise.all(tables.map((t) => countRows(target.db, t)));
    const summary = await migrateInto(target, { url: seeded.url, email: seeded.email, token: seeded.token }, { dryRun: true });
    assert.equal(summary.dryRun, true);
    assert.equal(summary.imported.tickets, seeded.counts.tickets);
    assert.equal(summary.imported.side_conversations, seeded.counts.sideConversations);
    assert.ok(summary.imported.attachments > 0);
    assert.deepEqual(await Promise.all(tables.map((t) => countRows(target.db, t))), before);
  });

  it('a source answering 429 (honouring Retry-After), 500 and dropped connections now and then still ends identical', async () => {
    const target = await emptyTarget();
    const upstream = new URL(seeded.url);
    let n = 0;
    const rateLimitedAt = new Map<string, number>();
    const retriedAfter: number[] = [];
    let faults = { rateLimited: 0, failed: 0, dropped: 0 };
    const proxy = http.createServer((req, res) => {
      n += 1;
      const url = req.url ?? '/';
      const limitedAt = rateLimitedAt.get(url);
      if (limitedAt !== undefined) {
        retriedAfter.push(Date.now() - limitedAt);
        rateLimitedAt.delete(url);
      } else if (n % 37 === 0 && faults.rateLimited < 3) {
        faults.rateLimited += 1;
        rateLimitedAt.set(url, Date.now());
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"TooManyRequests","description":"Slow down"}');
        return;
      } else if (n % 11 === 0) {
        faults.failed += 1;
        res.writeHead(n % 2 ? 500 : 503, { 'content-type': 'application/json' }).end('{"error":"InternalError"}');
        return;
      } else if (n % 29 === 0) {
        faults.dropped += 1;
        req.socket.destroy();
        return;
      }
      const forward = http.request({ host: upstream.hostname, port: upstream.port, path: url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const retries: Array<number | null> = [];
      const summary = await migrateInto(target, { url: `http://127.0.0.1:${port}`, email: seeded.email, token: seeded.token, onRetry: (r) => void retries.push(r.status) });
      assert.deepEqual(summary.failed, []);
      assert.equal(faults.rateLimited, 3);
      assert.ok(faults.failed > 5 && faults.dropped > 2, `faults: ${JSON.stringify(faults)}`);
      assert.equal(retries.filter((s) => s === 429).length, 3);
      const networkRetries = retries.filter((s) => s === null).length;
      assert.ok(networkRetries >= 1 && networkRetries <= faults.dropped, `${networkRetries} network retries for ${faults.dropped} dropped connections`);
      assert.equal(retriedAfter.length, 3, 'each rate-limited request was asked again');
      for (const waited of retriedAfter) assert.ok(waited >= 950, `asked again ${waited} ms after a Retry-After of 1 s`);
      assertSameAccount(await snapshot(target), expected);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('refuses bad credentials at the source with a clear failure, writing nothing', async () => {
    const target = await emptyTarget();
    await assert.rejects(migrateInto(target, { url: seeded.url, email: seeded.email, token: 'wrong-token' }), /401 from .*users/);
    assert.equal(await countRows(target.db, 'tickets'), 0);
  });
});
