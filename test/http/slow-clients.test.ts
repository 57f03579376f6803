/**
 * Slow and numerous clients (issue 10): a body trickled a byte at a time ends at the request
 * deadline, one address cannot take every socket, and /healthz keeps answering others.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what the server wrote once it closes the socket (or 'still open' after waitMs). */
function closedWithin(socket: net.Socket, waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const timer = setTimeout(() => resolve('still open'), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(received || 'closed');
    });
    socket.on('error', () => {});
  });
}

async function healthz(port: number, localAddress: string): Promise<string> {
  const socket = await connect(port, localAddress);
  socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  return closedWithin(socket, 10_000);
}

describe(`slow and numerous clients (${STORE_KIND})`, () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp({ requestTimeoutMs: 1_500, maxConnectionsPerClient: 4 });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => t.close());

  it('a body trickled a byte at a time is cut off at the request deadline', async () => {
    const socket = await connect(port);
    socket.write(`POST /api/v2/tickets HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${t.admin.auth}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    const trickle = setInterval(() => socket.writable && socket.write('{'), 200);
    const started = Date.now();
    const outcome = await closedWithin(socket, 8_000);
    clearInterval(trickle);
    socket.destroy();
    assert.notEqual(outcome, 'still open', 'the server still held the trickling socket after 8 s');
    assert.ok(Date.now() - started < 6_000, `closed after ${Date.now() - started} ms`);
    assert.match(outcome, /^HTTP\/1\.1 408|^closed$/);
  });

  it('headers trickled without end are cut off too', async () => {
    const socket = await connect(port);
    socket.write('GET /healthz HTTP/1.1\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 150);
    const outcome = await closedWithin(socket, 8_000);
    clearInterval(trickle);
    socket.destroy();
    assert.notEqual(outcome, 'still open');
  });

  it('one address gets maxPerClient sockets; another address still gets /healthz; freed sockets can be used again', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connect(port)));
    const fifth = await connect(port);
    assert.notEqual(await closedWithin(fifth, 3_000), 'still open', 'the fifth socket of one address is dropped');
    assert.match(await healthz(port, '127.0.0.2'), /^HTTP\/1\.1 200/);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.match(await healthz(port, '127.0.0.1'), /^HTTP\/1\.1 200/);
  });
});
