/** The results of a run, printed as text tables and written as JSON and Markdown. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConsoleMeasures } from './console.js';
import type { Measured } from './load.js';
import type { Figure } from './live.js';

export interface LoadRow {
  section: 'throughput' | 'auth' | 'growth';
  server: string;
  workload: string;
  connections: number;
  /** Growth level: side conversations in the account. */
  level?: number;
  result: Measured;
  /** requests/s ÷ the baseline's at the same connection count. */
  ratio: number | null;
}

export interface RelayRow {
  store: string;
  sink: string;
  smtpConnections: number;
  relays: number;
  queued: number;
  delivered: number;
  failed: number;
  seconds: number;
  perSecond: number;
  smtpMessages: number;
  /** Passes of the relay that failed (absent in results saved before it was counted). */
  passErrors?: number;
  /** Rows still pending when the relay stopped. */
  pending?: number;
}

export interface RssRow {
  process: string;
  peakMiB: number | null;
}

export interface CeilingRow {
  workload: string;
  connections: number;
  bodyBytes: number;
  /** Bare Fastify answering bodyBytes. */
  httpPerSecond: number;
  /** pgbench running the workload's database work. */
  databasePerSecond: number;
  databaseFailed: number;
  ceiling: number;
  sideline: number | null;
  ratio: number | null;
}

export interface Target {
  name: string;
  /** null: not measured (skipped). */
  pass: boolean | null;
  detail: string;
}

export interface Flatness {
  store: string;
  workload: string;
  fromLevel: number;
  toLevel: number;
  p50From: number;
  p50To: number;
  ratio: number;
}

export interface Report {
  startedAt: string;
  finishedAt?: string;
  environment: Record<string, string | number>;
  settings: Record<string, string | number | boolean>;
  showBodyBytes: number | null;
  rows: LoadRow[];
  relay: RelayRow[];
  rss: RssRow[];
  flatness: Flatness[];
  /** Single figures (start-up, the live stream, webhooks): see bench/lib/live.ts. */
  figures: Figure[];
  /** Each workload beside its stack ceiling (PostgreSQL): see bench/lib/ceiling.ts. */
  ceilings: CeilingRow[];
  targets: Target[];
  /** The agent console in Chromium (BENCH_ONLY … console); absent when not measured. */
  console?: ConsoleMeasures;
  notes: string[];
}

/** The p-th percentile (nearest rank) of `values`. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const num = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const pct = (n: number | null) => (n === null ? '-' : `${Math.round(n)}%`);
const levelLabel = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

/** Server + PostgreSQL CPU per 2xx response, in ms: the cost of a request, whatever else the machine did. */
export function cpuMsPerRequest(r: Measured): number | null {
  if (r.serverCpuPct === null || !(r.requestsPerSecond > 0)) return null;
  return (10 * (r.serverCpuPct + (r.postgresCpuPct ?? 0))) / r.requestsPerSecond;
}

const cpuMs = (r: Measured) => {
  const v = cpuMsPerRequest(r);
  return v === null ? '-' : v < 1 ? v.toFixed(3) : v.toFixed(2);
};

function problems(r: Measured): string {
  const parts: string[] = [];
  if (r.non2xx) parts.push(`${r.non2xx} non-2xx ${JSON.stringify(r.statuses)}`);
  if (r.errors) parts.push(`${r.errors} errors`);
  if (r.timeouts) parts.push(`${r.timeouts} timeouts`);
  if (r.otherCpuPct !== null && r.otherCpuPct > 25) parts.push(`busy machine: others used ${Math.round(r.otherCpuPct)}% CPU`);
  return parts.join(', ');
}

function table(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${align.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');
}

interface Tables {
  title: string;
  header: string[];
  align: Array<'l' | 'r'>;
  rows: string[][];
}

function tables(report: Report): Tables[] {
  const out: Tables[] = [];
  const loadHeader = ['server', 'workload', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'vs baseline', 'CPU server', 'CPU pg', 'CPU loader', 'CPU other', 'CPU ms/req', 'problems'];
  const loadAlign: Array<'l' | 'r'> = ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'];
  const loadCells = (r: LoadRow) => [
    r.server,
    r.workload,
    String(r.connections),
    num(r.result.requestsPerSecond),
    ms(r.result.p50),
    ms(r.result.p99),
    r.ratio === null ? '-' : `${(r.ratio * 100).toFixed(1)}%`,
    pct(r.result.serverCpuPct),
    pct(r.result.postgresCpuPct),
    pct(r.result.loaderCpuPct),
    pct(r.result.otherCpuPct),
    cpuMs(r.result),
    problems(r.result),
  ];
  const throughput = report.rows.filter((r) => r.section === 'throughput');
  if (throughput.length) out.push({ title: 'Throughput and latency', header: loadHeader, align: loadAlign, rows: throughput.map(loadCells) });
  const auth = report.rows.filter((r) => r.section === 'auth');
  if (auth.length) out.push({ title: "Caches on and off (in-process buildApp): authentication; the embedded store's read cache and the conversations' kept JSON", header: loadHeader, align: loadAlign, rows: auth.map(loadCells) });
  const growth = report.rows.filter((r) => r.section === 'growth');
  if (growth.length) {
    out.push({
      title: 'Growth (side conversations in the account)',
      header: ['server', 'level', 'workload', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'CPU server', 'CPU pg', 'CPU loader', 'CPU other', 'CPU ms/req', 'problems'],
      align: ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      rows: growth.map((r) => [
        r.server,
        levelLabel(r.level ?? 0),
        r.workload,
        String(r.connections),
        num(r.result.requestsPerSecond),
        ms(r.result.p50),
        ms(r.result.p99),
        pct(r.result.serverCpuPct),
        pct(r.result.postgresCpuPct),
        pct(r.result.loaderCpuPct),
        pct(r.result.otherCpuPct),
        cpuMs(r.result),
        problems(r.result),
      ]),
    });
  }
  if (report.flatness.length) {
    const growthRow = (store: string, workload: string, level: number) =>
      growth.find((r) => r.server === `Sideline ${store}` && r.workload === workload && r.level === level)?.result;
    const cpuRatio = (f: Flatness) => {
      const a = growthRow(f.store, f.workload, f.fromLevel);
      const b = growthRow(f.store, f.workload, f.toLevel);
      const x = a ? cpuMsPerRequest(a) : null;
      const y = b ? cpuMsPerRequest(b) : null;
      return x && y ? { from: x, to: y, ratio: y / x } : null;
    };
    out.push({
      title: 'Cost per request as data grows (p50 at the top level ÷ p50 at 1k)',
      header: ['store', 'workload', 'top level', 'p50 at 1k', 'p50 at top', 'p50 ratio', 'flat (≤ 1.25×)', 'CPU ms/req at 1k', 'at top', 'CPU ratio'],
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r'],
      rows: report.flatness.map((f) => {
        const c = cpuRatio(f);
        return [
          f.store,
          f.workload,
          levelLabel(f.toLevel),
          ms(f.p50From),
          ms(f.p50To),
          `${f.ratio.toFixed(2)}×`,
          f.ratio <= 1.25 ? 'yes' : 'no',
          c ? c.from.toFixed(2) : '-',
          c ? c.to.toFixed(2) : '-',
          c ? `${c.ratio.toFixed(2)}×` : '-',
        ];
      }),
    });
  }
  if (report.relay.length) {
    out.push({
      title: 'Relay (outbox → SMTP sink)',
      header: ['store', 'SMTP sink', 'relays', 'queued', 'delivered', 'failed', 'seconds', 'emails/s', 'SMTP messages', 'SMTP connections'],
      align: ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      rows: report.relay.map((r) => [
        r.store,
        r.sink,
        String(r.relays),
        String(r.queued),
        String(r.delivered),
        String(r.failed),
        r.seconds.toFixed(2),
        num(r.perSecond, 1),
        String(r.smtpMessages),
        String(r.smtpConnections),
      ]),
    });
  }
  if (report.ceilings.length) {
    out.push({
      title: 'PostgreSQL: each workload against its stack ceiling, 1 / (1/Fastify + 1/pgbench)',
      header: ['workload', 'conns', 'body B', 'Fastify req/s', 'pgbench tps', 'ceiling', 'Sideline req/s', 'of ceiling'],
      align: ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      rows: report.ceilings.map((c) => [
        c.workload,
        String(c.connections),
        String(c.bodyBytes),
        num(c.httpPerSecond),
        num(c.databasePerSecond) + (c.databaseFailed ? ` (${c.databaseFailed} failed)` : ''),
        num(c.ceiling),
        num(c.sideline),
        c.ratio === null ? '-' : pct(c.ratio * 100),
      ]),
    });
  }
  if (report.figures.length) {
    out.push({
      title: 'Start-up, live stream and webhooks',
      header: ['section', 'store', 'figure', 'value', 'unit', 'how'],
      align: ['l', 'l', 'l', 'r', 'l', 'l'],
      rows: report.figures.map((f) => [f.section, f.store, f.name, f.unit === 'ms' ? ms(f.value) : num(f.value, 1), f.unit, f.detail]),
    });
  }
  if (report.console) {
    const c = report.console;
    const stats = (values: number[]) => [String(values.length), num(percentile(values, 50)), num(percentile(values, 90)), num(Math.max(...values))];
    out.push({
      title: 'Agent console (headless Chromium, PGlite, localhost)',
      header: ['measure', 'samples', 'p50 ms', 'p90 ms', 'max ms'],
      align: ['l', 'r', 'r', 'r', 'r'],
      rows: [
        ['navigation → interactive ticket page', ...stats(c.ticketPageMs)],
        ['inbound reply commit → shown on the open page', ...stats(c.replyAppearMs)],
      ],
    });
  }
  if (report.rss.length) {
    out.push({
      title: 'Peak RSS of server processes (VmHWM)',
      header: ['process', 'peak RSS MiB'],
      align: ['l', 'r'],
      rows: report.rss.map((r) => [r.process, num(r.peakMiB)]),
    });
  }
  return out;
}

function targetLines(report: Report): string[] {
  return report.targets.map((t) => `${t.pass === null ? 'SKIP' : t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.detail}`);
}

function settingsLine(report: Report): string {
  return Object.entries({ ...report.environment, ...report.settings })
    .map(([k, v]) => `${k}=${v}`)
    .join('  ');
}

export function renderText(report: Report): string {
  const parts = [`Sideline benchmark — ${report.startedAt}`, settingsLine(report)];
  if (report.showBodyBytes) parts.push(`Show response: ${report.showBodyBytes} bytes (the baseline answers the same size)`);
  for (const t of tables(report)) parts.push('', `== ${t.title}`, table(t.header, t.rows, t.align));
  parts.push('', '== Targets', ...targetLines(report));
  if (report.notes.length) parts.push('', '== Notes', ...report.notes.map((n) => `- ${n}`));
  return parts.join('\n');
}

export function renderMarkdown(report: Report): string {
  const parts = [
    `# Sideline benchmark — ${report.startedAt}`,
    '',
    '`' + settingsLine(report) + '`',
  ];
  if (report.showBodyBytes) parts.push('', `Show response: ${report.showBodyBytes} bytes (the baseline answers the same size).`);
  for (const t of tables(report)) parts.push('', `## ${t.title}`, '', mdTable(t.header, t.rows, t.align));
  parts.push('', '## Targets', '', ...targetLines(report).map((l) => `- \`${l.slice(0, 4)}\` ${l.slice(6)}`));
  if (report.notes.length) parts.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  return `${parts.join('\n')}\n`;
}

export async function writeReport(dir: string, report: Report): Promise<{ json: string; md: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/:/g, '-');
  const json = join(dir, `${stamp}.json`);
  const md = join(dir, 'latest.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(md, renderMarkdown(report));
  return { json, md };
}
