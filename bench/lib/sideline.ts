/** Starting Sideline (the real `serve` command, or the in-process variant) and talking to it. */
import { Agent, request } from 'node:http';
import { freePort, spawnTs, waitForHttp, type Child } from './processes.js';
import type { Measured } from './load.js';
import type { BenchStore } from './stores.js';

export const ADMIN_EMAIL = 'bench-admin@example.com';
export const ADMIN_PASSWORD = 'bench-password-0123';
/** As a Zendesk client sends it: the account's subdomain first (the default account is "support"). */
export const HOST = 'support.localhost';

export function basic(login: string, secret: string): string {
  return `Basic ${Buffer.from(`${login}:${secret}`).toString('base64')}`;
}
export const ADMIN_AUTH = basic(ADMIN_EMAIL, ADMIN_PASSWORD);

export interface Server {
  child: Child;
  port: number;
  url: string;
  stop(): Promise<void>;
}

function serverOf(child: Child, port: number): Server {
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await child.stop();
    },
  };
}

const SERVER_ENV = {
  HOST: '127.0.0.1',
  RELAY: 'off',
  LOG_LEVEL: 'warn',
  SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL,
  SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
};

/** `node --import tsx src/main.ts serve` on the store. Extra node flags (e.g. --cpu-prof) and environment (over SERVER_ENV) optional. */
export async function startSideline(store: BenchStore, nodeFlags: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  const port = await freePort();
  const child = spawnTs(`sideline (${store.label})`, 'src/main.ts', ['serve'], { ...store.env, ...SERVER_ENV, ...env, PORT: String(port) }, nodeFlags);
  await waitForHttp(child, port);
  return serverOf(child, port);
}

/** bench/inprocess-server.ts: buildApp() with the authentication cache on or off (and the embedded store's read cache). */
export async function startInProcess(store: BenchStore, cache: boolean, readCache = true): Promise<Server> {
  const port = await freePort();
  const child = spawnTs(`in-process sideline (${store.label}, cache ${cache ? 'on' : 'off'}${readCache ? '' : ', nothing kept'})`, 'bench/inprocess-server.ts', [], {
    ...store.env,
    ...SERVER_ENV,
    AUTH_CACHE: cache ? 'on' : 'off',
    READ_CACHE: readCache ? 'on' : 'off',
    PORT: String(port),
  });
  await waitForHttp(child, port);
  return serverOf(child, port);
}

export async function startBaseline(bodyBytes: number): Promise<Server> {
  const port = await freePort();
  const child = spawnTs('baseline fastify', 'bench/baseline-server.ts', [], { PORT: String(port), BODY_BYTES: String(bodyBytes) });
  await waitForHttp(child, port);
  return serverOf(child, port);
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export interface ApiResponse {
  status: number;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One API call with the admin's Basic credentials and the account's Host. */
export function api(port: number, method: string, path: string, body?: unknown, auth = ADMIN_AUTH): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        timeout: 60_000,
        headers: {
          host: `${HOST}:${port}`,
          authorization: auth,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export async function apiOk(port: number, method: string, path: string, body?: unknown, auth = ADMIN_AUTH): Promise<ApiResponse> {
  const res = await api(port, method, path, body, auth);
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${res.text.slice(0, 500)}`);
  return res;
}

/** Runs `tasks` with at most `concurrency` in flight. */
export async function inParallel<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/**
 * `n` GETs sent at the same moment on `n` fresh connections: their latencies, and the time until
 * the last one answered.
 */
export async function burst(port: number, path: string, auth: string, n: number): Promise<{ wallMs: number; p50: number; result: Measured }> {
  const started = performance.now();
  const statuses: Record<string, number> = {};
  const times = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number>((resolve, reject) => {
          const t = performance.now();
          const req = request(
            { host: '127.0.0.1', port, method: 'GET', path, agent: false, timeout: 120_000, headers: { host: `${HOST}:${port}`, authorization: auth } },
            (res) => {
              res.resume();
              res.on('end', () => {
                statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
                resolve(performance.now() - t);
              });
            },
          );
          req.on('timeout', () => req.destroy(new Error('burst request timed out')));
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  const wallMs = performance.now() - started;
  const sorted = [...times].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  const ok = statuses['200'] ?? 0;
  return {
    wallMs,
    p50: at(50),
    result: {
      requestsPerSecond: ok / (wallMs / 1000),
      autocannonAverage: NaN,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: sorted[sorted.length - 1]!,
      ok,
      non2xx: n - ok,
      statuses: ok === n ? {} : statuses,
      errors: 0,
      timeouts: 0,
      seconds: wallMs / 1000,
      loaderCpuSeconds: 0,
      serverCpuPct: null,
      loaderCpuPct: 0,
      postgresCpuPct: null,
      otherCpuPct: null,
    },
  };
}
