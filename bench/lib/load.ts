/** Runs one load test (bench/load-worker.ts in a child process) and measures CPU use around it. */
import { cpuSeconds, cpuSecondsOfPids, spawnTs, systemBusySeconds } from './processes.js';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Cycled through, one per request (a single path for most workloads). */
  paths: string[];
  headers: Record<string, string>;
  body?: string;
  /**
   * Instead of `body`: cycled through once per pass over `paths`, so each path gets the next body on
   * the next pass (an Update that closes, then opens, each conversation in turn).
   */
  bodies?: string[];
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  timeoutSeconds?: number;
}

export interface LoadResult {
  /** 2xx responses per second of the measured window. */
  requestsPerSecond: number;
  /** autocannon's own figure (mean of per-second samples, every status). */
  autocannonAverage: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  loaderCpuSeconds: number;
}

export interface Measured extends LoadResult {
  /** CPU used during the measured window, as % of one core (the machine has several). */
  serverCpuPct: number | null;
  loaderCpuPct: number;
  postgresCpuPct: number | null;
  /** Everything else the machine did meanwhile (other people's processes, the kernel, this orchestrator). */
  otherCpuPct: number | null;
}

export interface Watch {
  serverPid: number | null;
  /** PostgreSQL backend pids serving the server under test (read when the measured window opens). */
  postgresPids?: () => Promise<number[]>;
}

export async function runLoad(spec: LoadSpec, watch: Watch): Promise<Measured> {
  const worker = spawnTs('load', 'bench/load-worker.ts', [JSON.stringify(spec)], {});
  const limitMs = (spec.durationSeconds + spec.warmupSeconds + 60) * 1000;
  const timer = setTimeout(() => worker.proc.kill('SIGKILL'), limitMs);
  type Mark = { at: number; server: number | null; pg: number; system: number };
  const marks: { start: Promise<Mark & { pgPids: number[] }> | null; end: Promise<Mark> | null } = { start: null, end: null };
  let pending = '';
  worker.proc.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let eol: number;
    while ((eol = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, eol);
      pending = pending.slice(eol + 1);
      if (line.includes('"phase":"measure"')) {
        const at = performance.now();
        const server = watch.serverPid === null ? null : cpuSeconds(watch.serverPid);
        const system = systemBusySeconds();
        marks.start = (watch.postgresPids ? watch.postgresPids() : Promise.resolve([])).then((pgPids) => ({
          at,
          server,
          pgPids,
          pg: cpuSecondsOfPids(pgPids),
          system,
        }));
      } else if (line.startsWith('{"requestsPerSecond"') && !marks.end && marks.start) {
        const mark = { at: performance.now(), server: watch.serverPid === null ? null : cpuSeconds(watch.serverPid), system: systemBusySeconds() };
        marks.end = marks.start.then((s) => ({ ...mark, pg: cpuSecondsOfPids(s.pgPids) }));
      }
    }
  });
  try {
    const code = await worker.exited;
    if (code !== 0) throw new Error(`load worker failed (exit ${code}):\n${worker.output()}`);
    const line = worker.stdout().trim().split('\n').pop()!;
    const result = JSON.parse(line) as LoadResult;
    // JSON has no NaN: percentiles of a run without one 2xx response come back as null.
    for (const key of ['p50', 'p90', 'p99', 'max'] as const) if (result[key] === null) result[key] = NaN;
    const s = marks.start ? await marks.start : null;
    const e = marks.end ? await marks.end : null;
    const wall = s && e ? (e.at - s.at) / 1000 : 0;
    const pctOf = (a: number | null | undefined, b: number | null | undefined) =>
      a === null || a === undefined || b === null || b === undefined || wall <= 0 ? null : (100 * (b - a)) / wall;
    const serverCpuPct = pctOf(s?.server, e?.server);
    const postgresCpuPct = watch.postgresPids ? pctOf(s?.pg, e?.pg) : null;
    const loaderCpuPct = (100 * result.loaderCpuSeconds) / result.seconds;
    const systemPct = pctOf(s?.system, e?.system);
    const otherCpuPct = systemPct === null ? null : Math.max(0, systemPct - (serverCpuPct ?? 0) - (postgresCpuPct ?? 0) - loaderCpuPct);
    return { ...result, serverCpuPct, loaderCpuPct, postgresCpuPct, otherCpuPct };
  } finally {
    clearTimeout(timer);
    await worker.stop(1000);
  }
}
