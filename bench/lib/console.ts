/**
 * The agent console's numbers, in Debian's headless Chromium against a real Sideline process (the
 * browser tests' world, test/console/harness.ts, on PGlite): the JavaScript a first visit loads
 * (gzipped), the time from navigation to an interactive ticket page, and the time from an inbound
 * reply's commit to its appearance on an open ticket page.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { ROOT } from './processes.js';
import { browserSkipReason, signIn, startConsoleWorld, ADMIN_EMAIL, ADMIN_PASSWORD } from '../../test/console/harness.js';

export interface ConsoleMeasures {
  /** Gzipped bytes of the JavaScript index.html loads (its scripts and module preloads). */
  firstLoadJsGzipBytes: number;
  firstLoadJsFiles: string[];
  /** ms from navigation start to the ticket page showing its side conversations, per visit. */
  ticketPageMs: number[];
  /** ms from an inbound reply's commit (the SMTP 250) to its text in the open thread, per reply. */
  replyAppearMs: number[];
}

/** The scripts a first visit of /agent/ fetches, as index.html names them, gzipped (level 9, as a server would send them). */
export function firstLoadJs(): { bytes: number; files: string[] } {
  const dist = join(ROOT, 'console', 'dist');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/agent\/([^"]+\.js)"/g)].map((m) => m[1]!);
  const bytes = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(dist, file)), { level: 9 }).length, 0);
  return { bytes, files };
}

// In the page (strings: the bench has no DOM types). They mark <html> when done, since waiting on a
// selector needs no eval (the console's CSP forbids it). Set before the console's own scripts run.
const READY_PROBE = `
  window.__ticketReadyAt = null;
  new MutationObserver((_, observer) => {
    if (document.querySelector('ul[aria-label="Side conversation list"]')) {
      window.__ticketReadyAt = performance.now();
      document.documentElement.dataset.benchTicketReady = '';
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
`;

const appearProbe = (text: string) => `
  window.__replySeenAt = null;
  delete document.documentElement.dataset.benchReplySeen;
  const seen = () => [...document.querySelectorAll('[aria-label="Thread"]')].some((el) => el.textContent.includes(${JSON.stringify(text)}));
  const observer = new MutationObserver(() => {
    if (seen()) {
      window.__replySeenAt = Date.now();
      document.documentElement.dataset.benchReplySeen = '';
      observer.disconnect();
    }
  });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
`;

export async function measureConsole(options: { visits: number; replies: number; log: (message: string) => void }): Promise<ConsoleMeasures | string> {
  const skip = browserSkipReason();
  if (skip) return skip;
  const js = firstLoadJs();
  // The bench measures the default store (PGlite) whatever DATABASE_URL this shell has.
  const saved = process.env['DATABASE_URL'];
  delete process.env['DATABASE_URL'];
  const world = await startConsoleWorld().finally(() => {
    if (saved !== undefined) process.env['DATABASE_URL'] = saved;
  });
  try {
    const page = await world.context.newPage();
    const ticket = await world.apiCall<{ ticket: { id: number } }>('POST', '/api/v2/tickets', { ticket: { subject: 'Bench: printer', comment: { body: 'It smokes.' } } });
    const ticketId = ticket.body.ticket.id;
    const sc = await world.apiCall<{ side_conversation: { id: string } }>('POST', `/api/v2/tickets/${ticketId}/side_conversations`, {
      message: { subject: 'Bench: toner', body: 'Do you have toner?', to: [{ email: 'vendor@example.com' }] },
    });
    if (sc.status !== 201) throw new Error(`creating the side conversation answered ${sc.status}`);
    await world.sink.waitForMessages(1, 60_000);
    const outbound = await simpleParser(world.sink.messages[0]!.raw);
    const replyTo = outbound.replyTo?.value[0]?.address;
    if (!replyTo) throw new Error('the outbound mail has no Reply-To');

    await signIn(page, world.baseUrl, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(/\/agent\/tickets$/);
    await page.addInitScript(READY_PROBE);
    const ticketUrl = `${world.baseUrl}/agent/tickets/${ticketId}`;
    const ticketPageMs: number[] = [];
    // One visit first, not counted: the browser's first compile of the bundle is a cold start.
    for (let i = 0; i <= options.visits; i++) {
      await page.goto(ticketUrl);
      await page.waitForSelector('html[data-bench-ticket-ready]', { state: 'attached' });
      const ms = (await page.evaluate('window.__ticketReadyAt')) as number;
      if (i > 0) ticketPageMs.push(ms);
    }
    options.log(`console: ticket page interactive after ${ticketPageMs.map((x) => Math.round(x)).join(', ')} ms`);

    await page.goto(`${ticketUrl}?side_conversation=${sc.body.side_conversation.id}`);
    await page.getByRole('list', { name: 'Thread' }).getByText('Do you have toner?').waitFor();
    const sender = nodemailer.createTransport({ host: '127.0.0.1', port: world.inboundSmtpPort, secure: false, ignoreTLS: true });
    const replyAppearMs: number[] = [];
    try {
      for (let i = 0; i < options.replies; i++) {
        const text = `Bench reply ${i} ${Date.now()}`;
        await page.evaluate(`{${appearProbe(text)}}`);
        await sender.sendMail({ from: '"Vendor" <vendor@example.com>', to: replyTo, subject: 'Re: Bench: toner', inReplyTo: outbound.messageId, text });
        // The listener answers 250 once the reply is committed.
        const committedAt = Date.now();
        await page.waitForSelector('html[data-bench-reply-seen]', { state: 'attached', timeout: 60_000 });
        replyAppearMs.push(((await page.evaluate('window.__replySeenAt')) as number) - committedAt);
      }
    } finally {
      sender.close();
    }
    options.log(`console: replies appeared after ${replyAppearMs.join(', ')} ms`);
    return { firstLoadJsGzipBytes: js.bytes, firstLoadJsFiles: js.files, ticketPageMs, replyAppearMs };
  } finally {
    await world.close();
  }
}
