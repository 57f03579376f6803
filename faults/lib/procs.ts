/**
 * Sideline processes of the fault harness, on the shared process helpers of test/helpers/processes.ts:
 * every child is registered there, so whatever happens (a failed check, an exception, Ctrl-C) none
 * outlives the run; they are killed by their own pid only. Here: the error lines of their JSON logs.
 */
import { freePort, runSideline as spawnSideline, waitForHttp, type SidelineProcess as BaseProcess } from '../../test/helpers/processes.js';

export { killAllChildren, ROOT, waitForOutput } from '../../test/helpers/processes.js';

export interface SidelineProcess extends BaseProcess {
  /** Every log line at level error or fatal (JSON logs), up to 5000. */
  errorLines(): string[];
}

/** `node --import tsx src/main.ts <command>` from the repository root, as the tests do (LOG_LEVEL warn unless set). */
export function runSideline(name: string, command: 'serve' | 'relay', env: Record<string, string>): SidelineProcess {
  const child = spawnSideline(name, [command], env, { logLevel: 'warn', stopGraceMs: 20_000 });
  let partial = '';
  const errors: string[] = [];
  const onChunk = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    if (partial.length > 32_000_000) partial = '';
    for (const line of lines) if (errors.length < 5000 && /"level":(50|60)/.test(line)) errors.push(line);
  };
  child.proc.stdout!.on('data', onChunk);
  child.proc.stderr!.on('data', onChunk);
  return Object.assign(child, { errorLines: () => [...errors] });
}

/** Starts `serve` on a free loopback port and waits (bounded) until /healthz answers 200. */
export async function startServer(name: string, env: Record<string, string>, timeoutMs = 120_000): Promise<SidelineProcess> {
  const port = await freePort();
  const server = runSideline(name, 'serve', { ...env, PORT: String(port), HOST: '127.0.0.1' });
  await waitForHttp(server, port, { timeoutMs, requestTimeoutMs: 2_000, intervalMs: 150 });
  return server;
}
