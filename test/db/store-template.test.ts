/**
 * The store template (src/db/store-template.ts): a new DATA_DIR starts as a copy of a migrated, empty
 * store made once by the build, and each copy draws its own install secrets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrationsApplied, openMigratedStore, openStore } from '../../src/db/store.js';
import { writeStoreTemplate } from '../../src/db/store-template.js';
import { migrations } from '../../src/db/migrations/index.js';
import { sql } from 'kysely';

const installSecret = async (dataDir: string, template: string): Promise<string> => {
  const store = await openStore({ dataDir, template });
  try {
    assert.ok(await migrationsApplied(store.db), 'a copy of the template is migrated before any migration runs');
    const { rows } = await sql<{ secret: string }>`select secret from install_secrets where name = 'message_id'`.execute(store.db);
    return rows[0]!.secret;
  } finally {
    await store.close();
  }
};

describe('the store template', () => {
  let work: string;
  let template: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sideline-template-'));
    mkdirSync(join(work, 'dist'));
    // An older template beside it is replaced.
    mkdirSync(join(work, 'dist', 'store-template-old'));
    template = join(work, 'dist', 'store-template-test');
    await writeStoreTemplate(template, async (dataDir) => (await openMigratedStore({ dataDir })).close());
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('is a whole migrated data directory, and the only template left', () => {
    assert.ok(existsSync(join(template, 'PG_VERSION')));
    assert.deepEqual(readdirSync(join(work, 'dist')), ['store-template-test']);
  });

  it('seeds new data directories, each with secrets of its own', async () => {
    const first = await installSecret(join(work, 'a'), template);
    const second = await installSecret(join(work, 'b'), template);
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.notEqual(first, second);
    // The template itself is left as it was: a third copy draws yet another.
    assert.notEqual(await installSecret(join(work, 'c'), template), first);
    // Reopened, a store keeps what it drew (the draw happens once).
    assert.equal(await installSecret(join(work, 'a'), template), first);
    assert.ok(!existsSync(join(work, 'a', 'install-secrets-pending')));
  });

  it('a copy stopped before it drew its secrets draws them at its next start', async () => {
    const dir = join(work, 'd');
    const drawn = await installSecret(dir, template);
    writeFileSync(join(dir, 'install-secrets-pending'), '');
    assert.notEqual(await installSecret(dir, template), drawn);
  });

  it('a copy left half-made by a crash is not taken for a store', async () => {
    const dir = join(work, 'e');
    mkdirSync(join(dir, 'pgdata.partial-12345'), { recursive: true });
    await installSecret(dir, template);
    assert.ok(existsSync(join(dir, 'pgdata', 'PG_VERSION')));
    assert.ok(!existsSync(join(dir, 'pgdata.partial-12345')), 'the leftover is removed');
  });

  it('without a template (or with a missing one) a store is initialised and migrated as before', async () => {
    const store = await openMigratedStore({ dataDir: join(work, 'f'), template: join(work, 'dist', 'no-such-template') });
    try {
      const { rows } = await sql<{ count: number }>`select count(*)::int as count from kysely_migration`.execute(store.db);
      assert.equal(rows[0]!.count, Object.keys(migrations).length);
    } finally {
      await store.close();
    }
  });
});
