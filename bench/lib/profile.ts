/** The hottest functions of a V8 .cpuprofile (self time), for the report's notes. */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { ROOT } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfPct: number;
}

function where(url: string, line: number): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const rel = path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${rel.replace(/^node_modules\//, 'nm/')}:${line + 1}`;
}

/** `skipMs`: ignore the first milliseconds of the profile (process start-up, module loading). */
export async function hottest(file: string, top = 15, skipMs = 0): Promise<{ functions: HotFunction[]; byPackage: Array<{ name: string; selfPct: number }> }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const self = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    let at = 0;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas![i] ?? 0;
      at += delta;
      if (at / 1000 >= skipMs) self.set(id, (self.get(id) ?? 0) + delta);
    });
  } else {
    for (const n of profile.nodes) self.set(n.id, n.hitCount ?? 0);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const byFunction = new Map<string, HotFunction>();
  const byPackage = new Map<string, number>();
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0;
    if (!t) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    const at = where(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${name} ${at}`;
    const entry = byFunction.get(key) ?? { name, where: at, selfPct: 0 };
    entry.selfPct += (100 * t) / total;
    byFunction.set(key, entry);
    const url = node.callFrame.url;
    const pkg = !url
      ? name.startsWith('(') ? name : '(native)'
      : url.startsWith('wasm://')
        ? 'WebAssembly (PGlite)'
        : url.includes('/node_modules/')
        ? url.split('/node_modules/').pop()!.split('/').slice(0, url.split('/node_modules/').pop()!.startsWith('@') ? 2 : 1).join('/')
        : url.startsWith('node:')
          ? 'node core'
          : url.includes('/src/')
            ? 'sideline src'
            : 'other';
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + (100 * t) / total);
  }
  return {
    functions: [...byFunction.values()].sort((a, b) => b.selfPct - a.selfPct).slice(0, top),
    byPackage: [...byPackage.entries()].map(([name, selfPct]) => ({ name, selfPct })).sort((a, b) => b.selfPct - a.selfPct).slice(0, 12),
  };
}

/** Where the self time of one function (e.g. writev) comes from: its nearest caller in a package or in src. */
export async function callersOf(file: string, functionName: string): Promise<Array<{ caller: string; pct: number }>> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  (profile.samples ?? []).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  const byCaller = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const t = n.callFrame.functionName === functionName ? (self.get(n.id) ?? 0) : 0;
    if (!t) continue;
    total += t;
    let caller = '(unknown)';
    for (let id = parent.get(n.id); id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (/node_modules|\/src\//.test(frame.url)) {
        caller = `${frame.functionName || '(anonymous)'} ${where(frame.url, frame.lineNumber)}`;
        break;
      }
    }
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + t);
  }
  return [...byCaller.entries()].map(([caller, t]) => ({ caller, pct: (100 * t) / (total || 1) })).sort((a, b) => b.pct - a.pct);
}

// As a command: node --import tsx bench/lib/profile.ts FILE.cpuprofile [SKIP_MS] [--callers FUNCTION]
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--callers');
  const callersFor = at === -1 ? undefined : args.splice(at, 2)[1];
  const file = args[0];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/lib/profile.ts FILE.cpuprofile [SKIP_MS] [--callers FUNCTION]\n');
    process.exit(2);
  }
  const { functions, byPackage } = await hottest(file, 25, Number(args[1] ?? 0));
  for (const f of functions) process.stdout.write(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}\n`);
  process.stdout.write('\nby package:\n');
  for (const p of byPackage) process.stdout.write(`${p.selfPct.toFixed(1).padStart(5)}%  ${p.name}\n`);
  if (callersFor) {
    process.stdout.write(`\n${callersFor} is called from:\n`);
    for (const c of (await callersOf(file, callersFor)).slice(0, 10)) process.stdout.write(`${c.pct.toFixed(1).padStart(5)}%  ${c.caller}\n`);
  }
}
