/** Sideline as a real process in the tests, on the shared helpers of ./processes.ts: LOG_LEVEL info, the whole output kept. */
import { freePort, runSideline as spawnSideline, waitForOutput, type SidelineProcess } from './processes.js';

export { freePort };
export type ServerProcess = SidelineProcess;

/**
 * Runs `sideline <args>` as a real process: through tsx, so no build step is needed, or with
 * `built`, as `npm start` runs it (the bundle, rebuilt first if stale).
 */
export function runSideline(args: string[], env: Record<string, string>, options: { built?: boolean } = {}): ServerProcess {
  return spawnSideline(`sideline ${args.join(' ')}`, args, env, { logLevel: 'info', outputLimit: Infinity, built: options.built ?? false });
}

/** Starts a server and waits until it listens (or fails if it exits first). */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const server = runSideline(['serve'], { ...env, PORT: String(port), HOST: '127.0.0.1' });
  if (!(await waitForOutput(server, /Server listening/, 60_000))) {
    if (!server.alive()) throw new Error(`server exited before listening:\n${server.output()}`);
    server.kill('SIGKILL');
    throw new Error(`server did not start:\n${server.output()}`);
  }
  return server;
}
