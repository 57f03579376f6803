/**
 * Child processes of the benchmark, on the shared process helpers of test/helpers/processes.ts:
 * every one is registered there, so that whatever happens (an error, Ctrl-C, a timeout) none
 * outlives the run. Servers are started on a free loopback port and are ready once /healthz
 * answers. Here: children whose whole stdout is kept, and CPU and memory read from /proc.
 */
import { readFileSync } from 'node:fs';
import { spawnTs as spawnChild, type Child as BaseChild } from '../../test/helpers/processes.js';

export { freePort, killAllChildren, ROOT, waitForHttp } from '../../test/helpers/processes.js';

export interface Child extends BaseChild {
  /** The whole of stdout so far. */
  stdout(): string;
}

/** Runs `node --import tsx <script> ...args` from the repository root (plain `node <script>` when not viaTsx). */
export function spawnTs(name: string, script: string, args: string[], env: Record<string, string | undefined>, nodeFlags: string[] = [], viaTsx = true): Child {
  const child = spawnChild(name, script, args, env, { nodeFlags, viaTsx });
  let stdout = '';
  child.proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return Object.assign(child, { stdout: () => stdout });
}

/** Peak resident set size of a live process, from /proc/PID/status (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** CPU seconds used so far by the given processes (those that have ended count as 0). */
export function cpuSecondsOfPids(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function systemBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
