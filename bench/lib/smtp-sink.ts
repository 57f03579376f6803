/**
 * Local SMTP servers that accept everything and count it (the relay's destination).
 *
 * - `smtp-server`: the smtp-server package (what Sideline's own tests use). It holds every new
 *   connection for 100 ms before its greeting (its "early talker" check, not configurable), as
 *   many real MTAs do.
 * - `instant`: a minimal SMTP responder that greets at once, so the relay's own cost shows.
 */
import { createServer, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export type SinkKind = 'smtp-server' | 'instant';

export interface SmtpSink {
  kind: SinkKind;
  port: number;
  url: string;
  messages(): number;
  recipients(): number;
  connections(): number;
  close(): Promise<void>;
}

export async function startSmtpSink(kind: SinkKind = 'smtp-server'): Promise<SmtpSink> {
  return kind === 'smtp-server' ? startSmtpServerSink() : startInstantSink();
}

async function startSmtpServerSink(): Promise<SmtpSink> {
  let messages = 0;
  let recipients = 0;
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    size: 50 * 1024 * 1024,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        messages++;
        recipients += session.envelope.rcptTo.length;
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  const net = (server as unknown as { server: import('node:net').Server }).server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = net.address();
  if (!address || typeof address !== 'object') throw new Error('no SMTP port');
  return {
    kind: 'smtp-server',
    port: address.port,
    url: `smtp://127.0.0.1:${address.port}`,
    messages: () => messages,
    recipients: () => recipients,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function startInstantSink(): Promise<SmtpSink> {
  let messages = 0;
  let recipients = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    let buffer = '';
    let inData = false;
    let rcpt = 0;
    socket.write('220 sink.localhost ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end === -1) {
            // Keep only the tail that could start the terminator.
            if (buffer.length > 8) buffer = buffer.slice(-8);
            return;
          }
          buffer = buffer.slice(end + 5);
          inData = false;
          messages++;
          recipients += rcpt;
          rcpt = 0;
          socket.write('250 2.0.0 OK queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol === -1) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-sink.localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n');
        else if (verb === 'HELO') socket.write('250 sink.localhost\r\n');
        else if (verb === 'RCPT') {
          rcpt++;
          socket.write('250 2.1.5 OK\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          // The terminator may follow the command's own CRLF at once.
          buffer = `\r\n${buffer}`;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
          return;
        } else socket.write('250 OK\r\n'); // MAIL, RSET, NOOP, anything else
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no SMTP port');
  return {
    kind: 'instant',
    port: address.port,
    url: `smtp://127.0.0.1:${address.port}`,
    messages: () => messages,
    recipients: () => recipients,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
