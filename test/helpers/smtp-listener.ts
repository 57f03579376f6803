/** Starting and stopping our SMTP listener (an smtp-server instance) on a free loopback port. */
import type { AddressInfo } from 'node:net';
import type { SMTPServer } from 'smtp-server';

export async function listen(server: SMTPServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.server.address() as AddressInfo).port;
}

export function closeListener(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
