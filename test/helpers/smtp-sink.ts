/**
 * A loopback SMTP server for tests: it takes whatever our relay sends, keeps each message's
 * envelope and raw bytes, and can be told to refuse the next messages (4xx or 5xx after DATA),
 * to refuse one recipient at RCPT, or to answer slowly.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
}

export interface SinkAttempt {
  rcptTo: string[];
  /** The code we answered after DATA (250 when taken). */
  code: number;
}

export interface SmtpSink {
  port: number;
  /** smtp://127.0.0.1:PORT, as SMTP_URL or for smtpSink() of deliver.ts. */
  url: string;
  /** Messages taken, in order of arrival (the bytes are kept before a slow answer, see delayMs). */
  readonly messages: SinkMessage[];
  /** Every DATA, taken or refused. */
  readonly attempts: SinkAttempt[];
  /** Answer the next `count` messages with `code text` after DATA. */
  failNext(count: number, code: number, text?: string): void;
  /** Refuse this recipient at RCPT TO with `code text` (until cleared). */
  rejectRecipient(address: string, code: number, text: string): void;
  clearRejections(): void;
  /** Wait this long before answering 250 (the message counts as received before the answer). */
  delayMs: number;
  /** Resolves once at least `count` messages were taken; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function smtpError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startSmtpSink(options: { delayMs?: number } = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const attempts: SinkAttempt[] = [];
  const failures: Array<{ code: number; text: string }> = [];
  const rejected = new Map<string, { code: number; text: string }>();
  const waiters = new Set<() => void>();

  const sink = {} as SmtpSink;
  const server = new SMTPServer({
    name: 'sink.test',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const refusal = rejected.get(address.address.toLowerCase());
      callback(refusal ? smtpError(refusal.code, refusal.text) : null);
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        const failure = failures.shift();
        if (failure) {
          attempts.push({ rcptTo, code: failure.code });
          callback(smtpError(failure.code, failure.text));
          return;
        }
        attempts.push({ rcptTo, code: 250 });
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({ mailFrom, rcptTo, raw: Buffer.concat(chunks) });
        for (const wake of [...waiters]) wake();
        const answer = () => callback(null, `Queued as ${messages.length}`);
        if (sink.delayMs > 0) setTimeout(answer, sink.delayMs);
        else answer();
      });
    },
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  Object.assign(sink, {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    attempts,
    delayMs: options.delayMs ?? 0,
    failNext(count: number, code: number, text = code >= 500 ? 'Mailbox unavailable' : 'Try again later') {
      for (let i = 0; i < count; i++) failures.push({ code, text });
    },
    rejectRecipient(address: string, code: number, text: string) {
      rejected.set(address.toLowerCase(), { code, text });
    },
    clearRejections() {
      rejected.clear();
      failures.length = 0;
    },
    async waitForMessages(count: number, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the sink got ${messages.length} of ${count} messages in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.min(left, 250));
          waiters.add(wake);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
  return sink;
}
