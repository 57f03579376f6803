/**
 * The fault checks of one run: each is a name, a verdict and the evidence. The final line of the
 * run is `N passed, M failed`, counting these checks.
 */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** Evidence of a failure (first few offending items). */
  evidence: string[];
}

const results: CheckResult[] = [];

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

export function log(message: string): void {
  process.stdout.write(`[faults ${stamp()}] ${message}\n`);
}

export function section(title: string): void {
  process.stdout.write(`\n=== ${title} ===\n`);
}

/** Records one check. `evidence` is printed (up to 12 lines) only when the check fails. */
export function check(name: string, ok: boolean, detail = '', evidence: string[] = []): boolean {
  results.push({ name, ok, detail, evidence });
  process.stdout.write(`  ${ok ? 'PASS' : 'FAIL'}  ${name}${detail ? `: ${detail}` : ''}\n`);
  if (!ok) {
    const shown = process.env['FAULTS_VERBOSE'] === '1' ? evidence.length : 12;
    for (const line of evidence.slice(0, shown)) process.stdout.write(`          - ${line}\n`);
    if (evidence.length > shown) process.stdout.write(`          … and ${evidence.length - shown} more (FAULTS_VERBOSE=1 shows all)\n`);
  }
  return ok;
}

export function allResults(): readonly CheckResult[] {
  return results;
}

export function summaryLine(): string {
  const passed = results.filter((r) => r.ok).length;
  return `${passed} passed, ${results.length - passed} failed`;
}

/** Clips long strings for printing. */
export function clip(value: unknown, max = 160): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const printable = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > max ? `${printable.slice(0, max)}… (${text.length} chars)` : printable;
}

/** The p-th percentile (0–100, nearest rank) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** `p50 X ms, p99 Y ms (n N)` of latencies in milliseconds. */
export function latencySummary(ms: readonly number[]): string {
  return `p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms (n ${ms.length})`;
}
