/**
 * The browser tests' world: the built console served by a real Sideline process (PGlite in a temp
 * DATA_DIR, or a fresh database on DATABASE_URL's server), a loopback SMTP sink for outbound mail,
 * the inbound SMTP listener on a free port, and Debian's headless Chromium driven by playwright-core.
 * Never downloads a browser: without /usr/bin/chromium the tests skip (outside CI) or fail (CI=true).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, basic, createTempDatabase } from '../helpers/app.js';
import { ROOT, waitForOutput } from '../helpers/processes.js';
import { freePort, runSideline, type ServerProcess } from '../helpers/server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

export { ADMIN_EMAIL, ADMIN_PASSWORD };
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const INSTALL_HINT = 'apt-get install -y chromium';
export const INBOUND_DOMAIN = 'inbound.console.test';
export const SUPPORT_ADDRESS = 'help@console.test';

/** false, or the reason the browser tests are skipped; throws under CI=true when there is no browser. */
export function browserSkipReason(): string | false {
  if (existsSync(CHROMIUM_PATH)) return false;
  const message = `no browser at ${CHROMIUM_PATH}: install Debian's Chromium with \`${INSTALL_HINT}\` to run the console's browser tests`;
  if (process.env['CI'] === 'true') throw new Error(message);
  return message;
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Builds console/dist when it is missing or older than its sources (the tests drive the built console). */
export function ensureConsoleBuilt(): void {
  const console = join(ROOT, 'console');
  const built = join(console, 'dist', 'index.html');
  const sources = Math.max(newestMtime(join(console, 'src')), newestMtime(join(console, 'index.html')), newestMtime(join(console, 'vite.config.ts')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const result = spawnSync('npm', ['run', '--silent', 'build:console'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm run build:console failed:\n${result.stdout}\n${result.stderr}`);
}

export interface ConsoleWorld {
  server: ServerProcess;
  baseUrl: string;
  sink: SmtpSink;
  inboundSmtpPort: number;
  context: BrowserContext;
  adminAuth: string;
  /** A JSON API call with the admin's Basic credentials (the tests' own setup and checks). */
  apiCall<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** `env`: more of the server's environment (e.g. SIDELINE_ENCRYPTION_KEY for the integrations). */
export async function startConsoleWorld(options: { env?: Record<string, string> } = {}): Promise<ConsoleWorld> {
  ensureConsoleBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'sideline-console-'));
  const serverUrl = process.env['DATABASE_URL'];
  const database = serverUrl ? await createTempDatabase(serverUrl, 'sideline_console') : null;
  const sink = await startSmtpSink();
  const inboundSmtpPort = await freePort();
  let server: ServerProcess | null = null;
  let context: BrowserContext | null = null;
  const cleanup = async () => {
    await context?.close().catch(() => undefined);
    await server?.stop(10_000);
    await sink.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    server = runSideline(['serve'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: database?.url ?? '',
      DATA_DIR: join(dir, 'data'),
      SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL,
      SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SMTP_URL: sink.url,
      SUPPORT_ADDRESS,
      INBOUND_DOMAIN,
      INBOUND_SMTP_PORT: String(inboundSmtpPort),
      RELAY_POLL_MS: '100',
      ...options.env,
    });
    // Generous: eight test runs may share two cores.
    if (!(await waitForOutput(server, /Server listening/, 180_000))) throw new Error(`the server did not start:\n${server.output().slice(-4000)}`);
    // A fresh --user-data-dir per run (playwright passes it for a persistent context).
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    // Generous waits: on a loaded machine (eight test runs on two cores) a re-read can take many seconds.
    context.setDefaultTimeout(45_000);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const baseUrl = server.baseUrl;
  const adminAuth = basic(ADMIN_EMAIL, ADMIN_PASSWORD);
  return {
    server,
    baseUrl,
    sink,
    inboundSmtpPort,
    context,
    adminAuth,
    async apiCall<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: adminAuth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
    close: cleanup,
  };
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/** axe-core's serious and critical violations on the page as it is now (injected over CDP, past the CSP). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  // A string, so the test code needs no DOM types: it runs in the page.
  const violations = (await page.evaluate(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  })()`)) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Signs in through the login form. */
export async function signIn(page: Page, baseUrl: string, email: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/agent/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
