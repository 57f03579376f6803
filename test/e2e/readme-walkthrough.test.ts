/**
 * The README's curl walk-through, run for real so it cannot drift: the block is taken from README.md,
 * run in one bash against the server `npm start` runs (the built bundle, on a new DATA_DIR, so from the
 * build's store template), started as the README says (SIDELINE_ENCRYPTION_KEY
 * and INBOUND_EMAIL_SECRET set), and every curl's HTTP status is checked against the `# NNN` comment on
 * its line. curl is a PATH shim around the real one that also reports each status on stderr.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';
import { ROOT } from '../helpers/processes.js';
import { waitForOutput } from '../helpers/processes.js';
import { freePort, runSideline, type ServerProcess } from '../helpers/server.js';

const ADMIN_PASSWORD = 'walk-through-password';
const INBOUND_SECRET = randomBytes(20).toString('hex');

interface Line {
  number: number;
  text: string;
  /** The statuses its comment promises, one per curl on the line. */
  expected: string[];
}

/** The ```sh block after the heading "A walk through every endpoint with curl" that sets S and U. */
function walkThrough(readme: string): string {
  const section = readme.slice(readme.indexOf('## A walk through every endpoint with curl'));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.startsWith('export S='));
  assert.ok(block, 'README.md has the walk-through block');
  return block;
}

function commandLines(block: string): Line[] {
  return block.split('\n').flatMap((text, index) => {
    if (!text.trim() || text.trimStart().startsWith('#')) return [];
    const promised = /\s#\s+(\d{3}(?:\s+\d{3})*)(?::.*)?$/.exec(text);
    return [{ number: index + 1, text, expected: promised ? promised[1]!.split(/\s+/) : [] }];
  });
}

describe(`the README walk-through, pasted in order (${STORE_KIND})`, () => {
  let work: string;
  let server: ServerProcess;
  let database: { url: string; drop(): Promise<void> } | null = null;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'sideline-readme-'));
    database = process.env['DATABASE_URL'] ? await createTempDatabase(process.env['DATABASE_URL'], 'readme') : null;
    // Nothing leaves the machine: Slack's and Microsoft's endpoints are a closed loopback port.
    const closed = `http://127.0.0.1:${await freePort()}/`;
    server = runSideline(['serve'], {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      DATABASE_URL: database?.url ?? '',
      DATA_DIR: join(work, 'data'),
      SIDELINE_ADMIN_EMAIL: 'admin@sideline.localhost',
      SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SIDELINE_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      INBOUND_EMAIL_SECRET: INBOUND_SECRET,
      SLACK_API_URL: closed,
      TEAMS_TOKEN_URL: closed,
      RELAY_POLL_MS: '200',
    }, { built: true });
    // A first start creates the store (and a stale build is rebuilt); on a busy shared machine that has taken over a minute.
    assert.ok(await waitForOutput(server, /Server listening/, 240_000), `server did not start:\n${server.output()}`);
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('every curl line answers the status its comment promises', () => {
    const block = walkThrough(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    for (const placeholder of ['http://127.0.0.1:3000', 'THE-PRINTED-PASSWORD', 'THE-SECRET-ECHOED-ABOVE']) assert.ok(block.includes(placeholder), placeholder);
    const lines = commandLines(block);
    for (const line of lines) {
      const curls = line.text.match(/(^|[\s;|(])curl\s/g)?.length ?? 0;
      assert.equal(line.expected.length, curls, `line ${line.number} promises a status for each curl: ${line.text}`);
    }

    const realCurl = spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
    assert.ok(realCurl, 'curl is installed');
    const bin = join(work, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'curl'), `#!/bin/sh\nexec ${realCurl} --silent --show-error --write-out '%{stderr}@@STATUS %{http_code}\\n' "$@"\n`);
    chmodSync(join(bin, 'curl'), 0o755);
    const cwd = join(work, 'cwd');
    spawnSync('mkdir', ['-p', cwd]);
    symlinkSync(join(ROOT, 'docs'), join(cwd, 'docs'));
    // As when pasted in the checkout that runs `npm start`: the default DATA_DIR is ./data.
    symlinkSync(join(work, 'data'), join(cwd, 'data'));

    const script = block
      .replaceAll('http://127.0.0.1:3000', server.baseUrl)
      .replaceAll('THE-PRINTED-PASSWORD', ADMIN_PASSWORD)
      .replaceAll('THE-SECRET-ECHOED-ABOVE', INBOUND_SECRET)
      .split('\n')
      .map((text, index) => `${text}\necho "@@LINE ${index + 1}" >&2`)
      .join('\n');
    const run = spawnSync('bash', ['-c', script], { cwd, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(run.error, undefined, String(run.error));

    const seen = new Map<number, string[]>();
    let pending: string[] = [];
    for (const out of run.stderr.split('\n')) {
      const status = /^@@STATUS (\d{3})$/.exec(out);
      if (status) pending.push(status[1]!);
      const end = /^@@LINE (\d+)$/.exec(out);
      if (end) {
        seen.set(Number(end[1]), pending);
        pending = [];
      }
    }
    const wrong = lines.filter((line) => (seen.get(line.number) ?? []).join(' ') !== line.expected.join(' '));
    assert.deepEqual(
      wrong.map((line) => ({ line: line.text, promised: line.expected.join(' '), got: (seen.get(line.number) ?? []).join(' ') })),
      [],
      `stderr:\n${run.stderr.replace(/@@LINE \d+\n/g, '').slice(-4000)}\nstdout (end):\n${run.stdout.slice(-3000)}`,
    );
    assert.ok(existsSync(join(cwd, 'photo.png')), 'the download line saved the photo');
    assert.ok(readFileSync(join(cwd, 'photo.png')).equals(readFileSync(join(ROOT, 'docs', 'examples', 'photo.png'))));
    assert.match(run.stdout, /It is out now: the extinguisher worked\.|"inbound_email"/);
  });
});
