/**
 * Sideline processes of the fault harness. Every child is registered, so whatever happens (a failed
 * check, an exception, Ctrl-C) none outlives the run; they are killed by their own pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const live = new Set<ChildProcess>();

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

export interface SidelineProcess {
  name: string;
  proc: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  env: Record<string, string>;
  /** Last 64 KiB of stdout + stderr. */
  output(): string;
  /** Every log line at level error or fatal (JSON logs), up to 5000. */
  errorLines(): string[];
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string | null>;
  alive(): boolean;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | string | null>;
}

/** `node --import tsx src/main.ts <command>` from the repository root, as the tests do. */
export function runSideline(name: string, command: 'serve' | 'relay', env: Record<string, string>, port = 0): SidelineProcess {
  const fullEnv: Record<string, string> = { LOG_LEVEL: 'warn', ...env };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', command], {
    cwd: ROOT,
    env: { ...process.env, ...fullEnv } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  let partial = '';
  const errors: string[] = [];
  const keep = (s: string) => (s.length > 65_536 ? s.slice(-65_536) : s);
  const onChunk = (chunk: Buffer) => {
    const text = chunk.toString();
    out = keep(out + text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > 32_000_000) partial = '';
    for (const line of lines) if (errors.length < 5000 && /"level":(50|60)/.test(line)) errors.push(line);
  };
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
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    env: fullEnv,
    output: () => out,
    errorLines: () => [...errors],
    exited,
    alive,
    kill(signal) {
      if (alive()) proc.kill(signal);
    },
    async stop(graceMs = 20_000) {
      if (!alive()) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => alive() && proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Starts `serve` on a free loopback port and waits (bounded) until /healthz answers 200. */
export async function startServer(name: string, env: Record<string, string>, timeoutMs = 120_000): Promise<SidelineProcess> {
  const port = await freePort();
  const server = runSideline(name, 'serve', { ...env, PORT: String(port), HOST: '127.0.0.1' }, port);
  await waitHealthy(server, timeoutMs);
  return server;
}

export async function waitHealthy(server: SidelineProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.alive()) throw new Error(`${server.name} exited before it was ready:\n${server.output().slice(-4000)}`);
    try {
      const res = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) {
        await res.arrayBuffer();
        return;
      }
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`${server.name} was not ready within ${timeoutMs} ms:\n${server.output().slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** Starts `relay`; it has no port, so it is ready once it has been up a moment without exiting. */
export async function startRelay(name: string, env: Record<string, string>): Promise<SidelineProcess> {
  const relay = runSideline(name, 'relay', env);
  return relay;
}
