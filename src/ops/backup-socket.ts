import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** The running server's control socket in DATA_DIR, through which `sideline backup` asks for a copy. */
export const BACKUP_SOCKET_NAME = 'sideline.sock';

export const backupSocketPath = (dataDir: string): string => join(dataDir, BACKUP_SOCKET_NAME);

/**
 * The protocol: the client sends the line `backup`; the server answers one JSON line, then (when
 * `ok`) exactly `bytes` bytes of the dump, and closes.
 */
export interface BackupHeader {
  ok: boolean;
  bytes?: number;
  error?: string;
}

export interface BackupSocketLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Serves backups of the embedded store on a unix socket only its owner may connect to (the data
 * directory is locked to this process, so no other process can read the store). One backup runs at
 * a time; anything but the one request line is answered with an error and closed.
 */
export async function startBackupSocket(dataDir: string, dump: () => Promise<Uint8Array>, logger: BackupSocketLogger): Promise<{ close(): Promise<void> }> {
  const path = backupSocketPath(dataDir);
  // We hold the data directory's lock: a socket file left here belongs to a process that died.
  rmSync(path, { force: true });
  let running: Promise<unknown> = Promise.resolve();
  const answer = (socket: Socket, header: BackupHeader, body?: Uint8Array) => {
    socket.write(`${JSON.stringify(header)}\n`);
    if (body) socket.write(body);
    socket.end();
  };
  const server: Server = createServer((socket) => {
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const newline = received.indexOf('\n');
      if (newline === -1 && received.length < 64) return;
      socket.removeAllListeners('data');
      socket.setTimeout(0);
      if (received.slice(0, newline).trim() !== 'backup') return answer(socket, { ok: false, error: 'unknown request' });
      running = running.then(async () => {
        const started = Date.now();
        try {
          const bytes = await dump();
          answer(socket, { ok: true, bytes: bytes.byteLength }, bytes);
          logger.info({ bytes: bytes.byteLength, ms: Date.now() - started }, 'backup written to the control socket');
        } catch (error) {
          logger.error({ err: error }, 'backup failed');
          answer(socket, { ok: false, error: error instanceof Error ? error.message : String(error) });
        }
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        rmSync(path, { force: true });
      }),
  };
}
