#!/usr/bin/env node
/**
 * Builds the server into dist/main.js (and the chunks it loads on demand, dist/chunks/), then the empty store a new DATA_DIR is copied from.
 *
 * Why a bundle: Node 20 spends most of a start loading modules (some 1,500 files of the server and
 * its dependencies, each resolved, read and compiled); a bundle loads in a fraction of that, which
 * is what lets `npm start` answer within a few seconds. Type checking is tsc's job (`npm run
 * build:server` runs it first; `npm test` runs it too); esbuild only strips types and joins files.
 *
 * Left outside the bundle: packages that read their own files next to their code at run time
 * (PGlite's WebAssembly and data files, pino's worker files, the Swagger UI's static files).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// sanitize-html is required on first use, after the port opens (see src/text/html.ts).
const EXTERNAL = ['@electric-sql/pglite', 'pino', '@fastify/swagger', '@fastify/swagger-ui', 'pg-native', 'sanitize-html'];

const buildId = randomBytes(6).toString('hex');
// Chunks of earlier builds are not overwritten (their names carry a hash): start from none.
rmSync('dist/chunks', { recursive: true, force: true });
await build({
  // The embedded store runs PGlite on a thread of its own, from a second entry (src/db/embedded-database.ts).
  entryPoints: { main: 'src/main.ts', 'pglite-worker': 'src/db/pglite-worker.ts' },
  outdir: 'dist',
  // What main.ts imports with import() becomes chunks loaded on demand: `serve` starts the store
  // before it loads the app, and commands load only what they use.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: EXTERNAL,
  // Bundled CommonJS modules call require(); in an ES module it has to be made.
  banner: { js: "import { createRequire as __sidelineCreateRequire } from 'node:module'; const require = __sidelineCreateRequire(import.meta.url);" },
  define: { __SIDELINE_BUILD_ID__: JSON.stringify(buildId) },
  legalComments: 'none',
  logLevel: 'warning',
});

const template = spawnSync(process.execPath, ['dist/main.js', 'build-store-template'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
if (template.status !== 0) process.exit(template.status ?? 1);
