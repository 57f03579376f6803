/**
 * `npm start` builds only when the sources are newer than the build (scripts/build-if-stale.mjs),
 * and `npm install` builds once (`prepare`). The check runs for real, through npm, in a scratch
 * project whose `build:server` records each build, so the test does not wait for tsc.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/processes.js';

const SCRIPT = join(ROOT, 'scripts', 'build-if-stale.mjs');

describe('build once, start without compiling', () => {
  let dir: string;
  const builds = () => readFileSync(join(dir, 'builds.log'), 'utf8').split('\n').filter(Boolean).length;
  const check = () => spawnSync(process.execPath, [SCRIPT], { cwd: dir, encoding: 'utf8' });
  const age = (path: string, secondsAgo: number) => {
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(dir, path), when, when);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sideline-build-'));
    mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'src', 'deep', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'tsconfig.json'), '{}\n');
    writeFileSync(join(dir, 'builds.log'), '');
    const build = "const fs=require('fs');fs.mkdirSync('dist',{recursive:true});fs.writeFileSync('dist/main.js','');fs.appendFileSync('builds.log','built\\n')";
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, scripts: { 'build:server': `node -e "${build}"` } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds when there is no build, not again while it is current, and again when a source is newer', () => {
    const first = check();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /no build yet/);
    assert.equal(builds(), 1);

    age('src/deep/a.ts', 60);
    age('tsconfig.json', 60);
    const current = check();
    assert.equal(current.status, 0, current.stderr);
    assert.equal(current.stderr, '');
    assert.equal(builds(), 1, 'a current build is not rebuilt');

    age('dist/main.js', 30);
    writeFileSync(join(dir, 'src', 'deep', 'a.ts'), 'export const a = 2;\n');
    const changed = check();
    assert.equal(changed.status, 0, changed.stderr);
    assert.match(changed.stderr, /sources changed/);
    assert.equal(builds(), 2, 'a source newer than the build rebuilds');
  });

  it('a failing build fails the start', () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, scripts: { 'build:server': 'node -e "process.exit(3)"' } }));
    age('dist/main.js', 30);
    writeFileSync(join(dir, 'tsconfig.json'), '{"changed":true}\n');
    assert.notEqual(check().status, 0);
  });

  it("the project's scripts: install builds and makes the store, start runs the build through the check", () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(scripts['prepare'], 'npm run build && node dist/main.js init-store');
    assert.match(scripts['build']!, /npm run build:server/);
    assert.equal(scripts['build:server'], 'tsc -p tsconfig.build.json --noEmit && node scripts/build-server.mjs');
    for (const [script, command] of [['start', 'serve'], ['relay', 'relay'], ['migrate', 'migrate']] as const) {
      assert.equal(scripts[script], `node scripts/run.mjs ${command}`);
    }
    assert.equal(scripts['sideline'], 'node scripts/run.mjs');
    // run.mjs checks before it runs the build, in the same process.
    const runner = readFileSync(join(ROOT, 'scripts', 'run.mjs'), 'utf8');
    assert.ok(runner.indexOf('buildIfStale(') < runner.indexOf("import(new URL('../dist/main.js'"), runner);
  });
});
