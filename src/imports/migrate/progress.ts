import { KINDS, type Kind, type Progress, type Summary } from './migrate.js';

/**
 * What a person watching `import-from` sees: on a terminal, one line redrawn in place (a bar for the
 * phase, counts, and side conversations per second); otherwise (a log file, CI) plain lines, one per
 * phase and one every few seconds.
 */
export function consoleProgress(out: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean }, now: () => number = Date.now): Progress & { rate(): number } {
  const tty = 'isTTY' in out && out.isTTY === true;
  const counts = Object.fromEntries(KINDS.map((k) => [k, { imported: 0, skipped: 0, failed: 0 }])) as Record<Kind, { imported: number; skipped: number; failed: number }>;
  let phase = '';
  let total: number | null = null;
  let position = 0;
  let started = now();
  let scStarted: number | null = null;
  let lastPlain = 0;
  let drawn = false;

  const rate = () => {
    if (scStarted === null) return 0;
    const seconds = Math.max(0.001, (now() - scStarted) / 1000);
    return counts.side_conversations.imported / seconds;
  };
  const line = () => {
    const c = (k: Kind) => counts[k].imported + counts[k].skipped;
    const bar = total ? `[${'#'.repeat(Math.round((position / total) * 20)).padEnd(20, '.')}] ${position}/${total} ` : '';
    return `${phase}: ${bar}users ${c('users')} · groups ${c('groups')} · tickets ${c('tickets')} · side conversations ${c('side_conversations')} (${rate().toFixed(1)}/s) · failed ${KINDS.reduce((n, k) => n + counts[k].failed, 0)}`;
  };
  const draw = (force = false) => {
    if (tty) {
      out.write(`\r\x1b[2K${line()}`);
      drawn = true;
    } else if (force || now() - lastPlain >= 5000) {
      lastPlain = now();
      out.write(`${line()}\n`);
    }
  };

  return {
    rate,
    phase(name, phaseTotal) {
      if (phase) draw(true);
      if (tty && drawn) out.write('\n');
      phase = name;
      total = phaseTotal;
      position = 0;
      started = now();
      if (name === 'side conversations') scStarted = now();
      draw(true);
    },
    tick(kind, outcome, count = 1) {
      counts[kind][outcome] += count;
      // The bar counts the phase's own items; in the last phase, tickets whose conversations are read (advance).
      if ((phase === 'users' && kind === 'users') || (phase === 'groups' && kind === 'groups') || (phase === 'tickets' && kind === 'tickets')) position += count;
      draw();
    },
    advance() {
      position += 1;
      draw();
    },
    done(summary: Summary) {
      draw(true);
      if (tty) out.write('\n');
      void started;
      out.write(formatSummary(summary, rate()));
    },
  };
}

export function formatSummary(summary: Summary, scPerSecond?: number): string {
  const lines = [summary.dryRun ? 'Dry run: nothing was written. It would import:' : 'Import finished.'];
  const label: Record<Kind, string> = {
    users: 'users',
    groups: 'groups',
    memberships: 'group memberships',
    tickets: 'tickets',
    side_conversations: 'side conversations',
    events: 'side conversation events',
    attachments: 'attachments',
  };
  for (const kind of KINDS) {
    lines.push(`  ${label[kind].padEnd(26)} ${String(summary.imported[kind]).padStart(7)} ${summary.dryRun ? 'to import' : 'imported'}, ${summary.skipped[kind]} skipped (already here)`);
  }
  if (summary.ticketSource === 'paged') lines.push('  tickets were read by paging /api/v2/tickets: the source has no incremental ticket export');
  if (scPerSecond !== undefined && !summary.dryRun) lines.push(`  ${scPerSecond.toFixed(1)} side conversations per second`);
  lines.push(`  failed: ${summary.failed.length}`);
  for (const f of summary.failed.slice(0, 100)) lines.push(`    ${f.kind} ${f.id}: ${f.reason}`);
  if (summary.failed.length > 100) lines.push(`    … and ${summary.failed.length - 100} more`);
  return `${lines.join('\n')}\n`;
}
