/**
 * The data directory lock under a race: a stale lock (left by a process that died) and several
 * processes trying to take it at the same moment. Exactly one may win, every round.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../helpers/processes.js';

const TAKERS = 6;
const ROUNDS = 40;

interface Taker {
  proc: ChildProcess;
  next(): Promise<string>;
  send(line: string): void;
}

function startTaker(): Taker {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/lock-taker.ts'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return {
    proc,
    next: () => {
      const line = queue.shift();
      return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
    },
    send: (line) => void proc.stdin!.write(`${line}\n`),
  };
}

/** A pid that is certainly not running: that of a process that has just ended. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('the data directory lock, taken over from a dead process by several at once', () => {
  const takers: Taker[] = [];
  let root: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'sideline-lock-'));
    for (let i = 0; i < TAKERS; i++) takers.push(startTaker());
    for (const taker of takers) assert.equal(await taker.next(), 'ready');
  });

  after(() => {
    for (const taker of takers) taker.proc.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it(`lets exactly one of ${TAKERS} processes win, in each of ${ROUNDS} rounds`, { timeout: 300_000 }, async () => {
    const pid = await deadPid();
    const tally: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(root, `round-${round}`);
      mkdirSync(dir);
      // Alternate a stale lock of a dead process with an unreadable (half-written) one.
      const stale = round % 2 === 0 ? JSON.stringify({ pid, host: hostname(), started_at: new Date().toISOString() }) : '{"pid":';
      writeFileSync(join(dir, 'sideline.lock'), stale);
      for (const taker of takers) taker.send(`try ${dir}`);
      const answers = await Promise.all(takers.map((taker) => taker.next()));
      for (const answer of answers) assert.ok(answer === 'won' || answer === 'locked', answer);
      tally.push(answers.filter((a) => a === 'won').length);
      for (const taker of takers) taker.send('release');
      for (const taker of takers) assert.equal(await taker.next(), 'released');
      // Nothing is left behind: no lock after release, no takeover or temporary files.
      assert.deepEqual(readdirSync(dir), []);
    }
    assert.deepEqual(tally, Array<number>(ROUNDS).fill(1), `winners per round: ${tally.join(' ')}`);
  });
});
