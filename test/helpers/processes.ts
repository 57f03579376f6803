/**
 * Child processes of the tests, the benchmark (bench/) and the fault harness (faults/): every child
 * is registered here, so that whatever happens (a failed check, an exception, Ctrl-C, a timeout)
 * none outlives the run; they are killed by their own pid only. Servers are started on a free
 * loopback port and are ready once /healthz answers (or a line of their log says so).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root: every child runs from here. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const live = new Set<ChildProcess>();

/** Last resort: SIGKILL every child still registered (used on exit, on signals and between parts). */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  live.clear();
}

process.on('exit', killAllChildren);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** stdout + stderr so far (the last 64 KiB unless `outputLimit` said otherwise). */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string | null>;
  alive(): boolean;
  /** Sends `signal` if the process is still running. */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code once the process is gone. */
  stop(graceMs?: number): Promise<number | string | null>;
}

export interface SpawnOptions {
  /** Node flags before `--import tsx` (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Run a plain JavaScript script without tsx (the built server): false. Default true. */
  viaTsx?: boolean;
  /** How many characters of the end of stdout + stderr output() keeps: 64 KiB by default. */
  outputLimit?: number;
  /** The default grace of stop(): 10 s unless given. */
  stopGraceMs?: number;
}

/**
 * Runs `node --import tsx <script> ...args` from the repository root, with `env` over this process's
 * environment, stdin closed and stdout + stderr captured.
 */
export function spawnTs(name: string, script: string, args: string[], env: Record<string, string | undefined>, options: SpawnOptions = {}): Child {
  const { nodeFlags = [], outputLimit = 65_536, stopGraceMs = 10_000, viaTsx = true } = options;
  const proc = spawn(process.execPath, [...nodeFlags, ...(viaTsx ? ['--import', 'tsx'] : []), script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  const keep = (s: string) => (s.length > outputLimit ? s.slice(-outputLimit) : s);
  const onChunk = (chunk: Buffer) => (out = keep(out + chunk.toString()));
  proc.stdout!.on('data', onChunk);
  proc.stderr!.on('data', onChunk);
  const exited = new Promise<number | string | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      resolve(code ?? signal);
    }),
  );
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return {
    name,
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    alive,
    kill(signal) {
      if (alive()) proc.kill(signal);
    },
    async stop(graceMs = stopGraceMs) {
      if (!alive()) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => alive() && proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface HttpWait {
  /** 90 s unless given. */
  timeoutMs?: number;
  /** Timeout of one GET /healthz: 1 s unless given. */
  requestTimeoutMs?: number;
  /** Pause between two tries: 100 ms unless given. */
  intervalMs?: number;
}

/**
 * Waits until GET http://127.0.0.1:PORT/healthz answers 200; fails if the process exits first, or
 * kills it (SIGKILL) and fails after `timeoutMs`.
 */
export async function waitForHttp(child: Child, port: number, options: HttpWait = {}): Promise<void> {
  const { timeoutMs = 90_000, requestTimeoutMs = 1_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.alive()) throw new Error(`${child.name} exited before it was ready:\n${child.output().slice(-4000)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(requestTimeoutMs) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await child.exited;
      throw new Error(`${child.name} was not ready within ${timeoutMs} ms:\n${child.output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls output() until it matches `pattern`: true then, false once the process has ended or after `timeoutMs`. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(child.output())) return true;
    if (!child.alive()) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** A Sideline process (`src/main.ts serve|relay|…`) and where it listens (port 0: it does not). */
export interface SidelineProcess extends Child {
  port: number;
  baseUrl: string;
  /** What was set over this process's environment (LOG_LEVEL included). */
  env: Record<string, string>;
}

/**
 * `node --import tsx src/main.ts <args>` from the repository root (no build step needed), with
 * LOG_LEVEL `logLevel` unless `env` sets one. The port is the one `env.PORT` names.
 */
export function runSideline(
  name: string,
  args: string[],
  env: Record<string, string>,
  options: SpawnOptions & { logLevel?: string; built?: boolean } = {},
): SidelineProcess {
  const { logLevel = 'warn', built = false, ...spawnOptions } = options;
  const fullEnv: Record<string, string> = { LOG_LEVEL: logLevel, ...env };
  // built: what `npm start` runs (the bundle in dist/, rebuilt first if a source is newer).
  const child = built
    ? spawnTs(name, 'scripts/run.mjs', args, fullEnv, { ...spawnOptions, viaTsx: false })
    : spawnTs(name, 'src/main.ts', args, fullEnv, spawnOptions);
  const port = Number(fullEnv['PORT'] ?? 0);
  return Object.assign(child, { port, baseUrl: `http://127.0.0.1:${port}`, env: fullEnv });
}
