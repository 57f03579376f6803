/**
 * A real SMTP client for the inbound tests: nodemailer's SMTP transport (a dependency already), so
 * `npm test` needs nothing outside npm. It speaks to our listener over TCP like any mail server
 * would; a refusal is a result with the server's reply and the command it answered, not an exception,
 * and the transcript (both sides, one line each: `C: …` / `S: …`) shows what was and was not sent.
 */
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';

export interface SmtpAttempt {
  /** The server took the message (250 after the final "."). */
  accepted: boolean;
  /** The server's last reply: to the final "." when accepted, else to the command it refused. */
  reply: string;
  /** The SMTP command the refusal answered (`RCPT TO`, `DATA`, …); null when accepted. */
  refusedAt: string | null;
  transcript: string;
}

/** What to send: `envelope` is MAIL FROM / RCPT TO; the rest is nodemailer's message (or `raw` bytes as is). */
export type SmtpMessage = Mail.Options & { envelope: { from: string; to: string | string[] } };

type LogFn = (entry: { tnx?: string } | string, message?: string, ...args: unknown[]) => void;

function transcriptLogger(lines: string[]): Record<'level' | 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal', LogFn> {
  const record: LogFn = (entry, message, ...args) => {
    if (typeof entry !== 'object' || (entry.tnx !== 'client' && entry.tnx !== 'server') || typeof message !== 'string') return;
    const text = args.length ? message.replace(/%s/g, () => String(args.shift())) : message;
    for (const line of text.split(/\r?\n/)) if (line) lines.push(`${entry.tnx === 'client' ? 'C' : 'S'}: ${line}`);
  };
  const ignore: LogFn = () => undefined;
  return { level: ignore, trace: ignore, debug: record, info: ignore, warn: ignore, error: ignore, fatal: ignore };
}

/** Sends one message to 127.0.0.1:`port` (HELO vendor.example, no TLS, no AUTH). */
export async function sendSmtp(port: number, message: SmtpMessage): Promise<SmtpAttempt> {
  const lines: string[] = [];
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'vendor.example',
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
    debug: true,
    logger: transcriptLogger(lines),
  });
  try {
    const info = await transport.sendMail({ disableFileAccess: true, disableUrlAccess: true, ...message });
    return { accepted: true, reply: info.response, refusedAt: null, transcript: lines.join('\n') };
  } catch (error) {
    const e = error as { response?: unknown; command?: unknown; responseCode?: unknown };
    // A failure with no server reply (connection refused, timeout) is a broken test setup, not a refusal.
    if (typeof e.response !== 'string' || typeof e.responseCode !== 'number') throw error;
    const reply = e.response.replace(/^.*?(?=\d{3}[ -])/s, '');
    return { accepted: false, reply, refusedAt: typeof e.command === 'string' ? e.command : null, transcript: lines.join('\n') };
  } finally {
    transport.close();
  }
}
