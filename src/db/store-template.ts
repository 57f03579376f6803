/**
 * A migrated, empty embedded store made once by the build, so that the first `npm start` on a new
 * DATA_DIR copies a directory (tens of milliseconds) instead of running PostgreSQL's initdb and every
 * migration inside WebAssembly (5–15 s on 2 cores).
 *
 * A template belongs to the build that made it: its directory is named after that build's id, so a
 * rebuilt server (new migrations, say) never opens a template of an older one, and code run from
 * sources (tsx) has no build id and always initialises its store itself.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EmbeddedDatabase } from './embedded-database.js';
import { packageDir } from '../package-dir.js';

/** Set by the build (scripts/build-server.mjs) in the bundle; absent when run from sources. */
declare const __SIDELINE_BUILD_ID__: string | undefined;

/**
 * The template this build made beside itself (the bundle is dist/main.js, so this module's URL is
 * that file's); undefined when run from sources.
 */
export const BUILT_STORE_TEMPLATE =
  typeof __SIDELINE_BUILD_ID__ === 'string' ? join(packageDir(), 'dist', `store-template-${__SIDELINE_BUILD_ID__}`) : undefined;

/** Left in DATA_DIR from the copy until the copy has drawn its own secrets (see drawInstallSecrets). */
const SECRETS_PENDING = 'install-secrets-pending';

/**
 * Seeds `dataDir/pgdata` (the caller holding its lock) from the template when it does not exist yet. The copy is made under another
 * name and renamed into place, so a crash halfway leaves no half-made store that would be taken for one.
 */
export function seedFromTemplate(dataDir: string, template: string | undefined): void {
  const pgdata = join(dataDir, 'pgdata');
  // The caller holds DATA_DIR's lock: a partial copy is what a process that died left behind.
  for (const entry of readdirSync(dataDir)) {
    if (entry.startsWith('pgdata.partial-')) rmSync(join(dataDir, entry), { recursive: true, force: true });
  }
  if (!template || existsSync(pgdata) || !existsSync(join(template, 'PG_VERSION'))) return;
  const partial = `${pgdata}.partial-${process.pid}`;
  cpSync(template, partial, { recursive: true });
  writeFileSync(join(dataDir, SECRETS_PENDING), '');
  renameSync(partial, pgdata);
}

/**
 * Every store made from one template would otherwise share the template's per-install secrets
 * (the keys of outbound Message-IDs and webhook secrets, 32 random bytes in hex as the migrations make them): each copy draws its own, before it is first used, and again at
 * the next start if it was stopped before it could. Migrations that seed a secret keep it in
 * `install_secrets`, so this covers them all.
 */
export async function drawInstallSecrets(dataDir: string, pglite: EmbeddedDatabase): Promise<void> {
  const pending = join(dataDir, SECRETS_PENDING);
  if (!existsSync(pending)) return;
  const { rows } = await pglite.query<{ name: string }>('select name from install_secrets');
  for (const { name } of rows) {
    await pglite.query('update install_secrets set secret = $1 where name = $2', [randomBytes(32).toString('hex'), name]);
  }
  unlinkSync(pending);
}

/**
 * Builds the template at `target`: `makeStore(dir)` opens (and migrates, and closes) a store in a
 * scratch directory whose pgdata is then moved into place. Older templates beside it are removed.
 */
export async function writeStoreTemplate(target: string, makeStore: (dataDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(target);
  const scratch = mkdtempSync(join(parent, '.store-template-'));
  try {
    await makeStore(scratch);
    for (const entry of readdirSync(parent)) {
      if (entry.startsWith('store-template-')) rmSync(join(parent, entry), { recursive: true, force: true });
    }
    renameSync(join(scratch, 'pgdata'), target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
