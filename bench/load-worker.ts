/**
 * The load generator, in its own process so it never shares an event loop with a server under test.
 * Input: one JSON argument (a LoadSpec). Output: one JSON line on stdout (a LoadResult).
 *
 * Latency percentiles are computed here from every 2xx response time (sub-millisecond precision),
 * rather than from autocannon's histogram, which rounds to whole milliseconds.
 */
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './lib/load.js';

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

async function once(spec: LoadSpec, duration: number, record: boolean) {
  let cursor = 0;
  const times: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const statuses = new Map<number, number>();
  let done!: (value: autocannon.Result) => void;
  let failed!: (error: unknown) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => ((done = resolve), (failed = reject)));
  const instance = autocannon({
    // One path: part of the URL, so autocannon reuses one prebuilt request buffer.
    url: spec.paths.length === 1 ? spec.url + spec.paths[0]! : spec.url,
    connections: spec.connections,
    duration,
    timeout: spec.timeoutSeconds ?? 30,
    pipelining: 1,
    headers: spec.headers,
    method: spec.method,
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    // Several paths: the request is rebuilt for each (which costs the loader some CPU).
    ...(spec.paths.length === 1 && spec.bodies === undefined
      ? {}
      : {
          requests: [
            {
              method: spec.method,
              ...(spec.body !== undefined ? { body: spec.body } : {}),
              setupRequest: (req: autocannon.Request) => {
                const i = cursor++;
                const path = spec.paths[i % spec.paths.length]!;
                const bodies = spec.bodies;
                return bodies ? { ...req, path, body: bodies[Math.floor(i / spec.paths.length) % bodies.length]! } : { ...req, path };
              },
            } as autocannon.Request,
          ],
        }),
  }, (error, result) => (error ? failed(error) : done(result)));
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (!record) return;
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      times.push(responseTime);
    } else {
      non2xx++;
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
    }
  });
  const result = await finished;
  return { result, times, ok, non2xx, statuses };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as LoadSpec;
  const cpuBefore = process.cpuUsage();
  if (spec.warmupSeconds > 0) await once(spec, spec.warmupSeconds, false);
  const cpuStart = process.cpuUsage(cpuBefore);
  // Tells the parent to start its CPU counters.
  process.stdout.write(`${JSON.stringify({ phase: 'measure' })}\n`);
  const started = performance.now();
  const { result, times, ok, non2xx, statuses } = await once(spec, spec.durationSeconds, true);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = Float64Array.from(times).sort();
  const out: LoadResult = {
    requestsPerSecond: ok / (result.duration || elapsed),
    autocannonAverage: result.requests.average,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    ok,
    non2xx,
    statuses: Object.fromEntries(statuses),
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration || elapsed,
    loaderCpuSeconds: (cpu.user + cpu.system - cpuStart.user - cpuStart.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`load-worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
