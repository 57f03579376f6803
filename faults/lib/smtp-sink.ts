/** A loopback SMTP server that takes every message and records its Message-ID. */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SinkMessage {
  messageId: string | null;
  rcptTo: string[];
  bytes: number;
}

export interface MessageIdSink {
  url: string;
  readonly messages: SinkMessage[];
  /** How many times each Message-ID arrived. */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

/** The Message-ID header of a raw message (headers unfolded), or null. */
export function messageIdOf(raw: Buffer): string | null {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end === -1 ? Math.min(raw.length, 65_536) : end).toString('utf8').replace(/\r\n[ \t]+/g, ' ');
  const match = /^message-id:\s*(.+)$/im.exec(head);
  return match ? match[1]!.trim() : null;
}

export async function startMessageIdSink(): Promise<MessageIdSink> {
  const messages: SinkMessage[] = [];
  const server = new SMTPServer({
    name: 'faults.sink',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    closeTimeout: 200,
    size: 50 * 1024 * 1024,
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        messages.push({ messageId: messageIdOf(raw), rcptTo: session.envelope.rcptTo.map((r) => r.address), bytes: raw.length });
        callback(null, `Queued as ${messages.length}`);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    counts() {
      const counts = new Map<string, number>();
      for (const m of messages) counts.set(m.messageId ?? '(none)', (counts.get(m.messageId ?? '(none)') ?? 0) + 1);
      return counts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
