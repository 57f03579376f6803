import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runSideline, startServer, type ServerProcess } from '../helpers/server.js';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';

const exec = promisify(execFile);
const ADMIN = { SIDELINE_ADMIN_EMAIL: 'owner@example.com', SIDELINE_ADMIN_PASSWORD: 'a-long-admin-password' };

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sideline-test-'));
}

/** Sends a POST whose body arrives in two parts, so the request is in flight while we signal the server. */
function slowPost(port: number, path: string, auth: string, body: string) {
  const socket = connect(port, '127.0.0.1');
  let response = '';
  socket.on('data', (chunk) => (response += chunk.toString()));
  const done = new Promise<string>((resolve) => socket.on('close', () => resolve(response)));
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
  );
  return { finish: () => socket.write(body.slice(half)), done };
}

const basicAuth = `Basic ${Buffer.from(`${ADMIN.SIDELINE_ADMIN_EMAIL}:${ADMIN.SIDELINE_ADMIN_PASSWORD}`).toString('base64')}`;

describe('the process: configuration, data directory lock, shutdown', () => {
  it('refuses a bad configuration value with a clear message', async () => {
    const bad = runSideline(['serve'], { PORT: 'eighty', DATABASE_URL: '' });
    assert.equal(await bad.exited, 1);
    assert.match(bad.output(), /PORT must be a whole number, got "eighty"/);
    const badUrl = runSideline(['serve'], { DATABASE_URL: 'mysql://x' });
    assert.equal(await badUrl.exited, 1);
    assert.match(badUrl.output(), /DATABASE_URL must start with postgres:\/\//);
  });

  it('a second process on the same DATA_DIR exits at once naming the directory and the other process', async () => {
    const dir = tempDir();
    const first = await startServer({ DATA_DIR: dir, DATABASE_URL: '', ...ADMIN });
    try {
      const second = runSideline(['serve'], { DATA_DIR: dir, DATABASE_URL: '', PORT: '0', ...ADMIN });
      assert.equal(await second.exited, 1);
      assert.ok(second.output().includes(dir), second.output());
      assert.ok(second.output().includes(`pid ${first.pid}`), second.output());
      // The first one is untouched and still serves.
      const health = await fetch(`${first.baseUrl}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
    } finally {
      first.proc.kill('SIGTERM');
      await first.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SIGTERM drains an in-flight request, closes the store and frees the directory; data survives a restart', async () => {
    const dir = tempDir();
    const server = await startServer({ DATA_DIR: dir, DATABASE_URL: '', ...ADMIN });
    const inFlight = slowPost(server.port, '/api/v2/tickets.json', basicAuth, JSON.stringify({ ticket: { subject: 'Drain me', comment: { body: 'in flight' } } }));
    // Wait until the server has the request's headers, then ask it to stop.
    await new Promise((r) => setTimeout(r, 300));
    server.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    inFlight.finish();
    const raw = await inFlight.done;
    assert.match(raw, /^HTTP\/1\.1 201/, raw);
    assert.match(raw, /"subject":"Drain me"/);
    assert.equal(await server.exited, 0);
    assert.match(server.output(), /stopped cleanly/);
    assert.equal(existsSync(join(dir, 'sideline.lock')), false);

    const again = await startServer({ DATA_DIR: dir, DATABASE_URL: '', ...ADMIN });
    try {
      const res = await fetch(`${again.baseUrl}/api/v2/tickets/1.json`, { headers: { authorization: basicAuth } });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { ticket: { subject: string } };
      assert.equal(body.ticket.subject, 'Drain me');
    } finally {
      again.proc.kill('SIGINT');
      assert.equal(await again.exited, 0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without SIDELINE_ADMIN_* a first admin is generated and its password printed once', async () => {
    const dir = tempDir();
    try {
      const first = await startServer({ DATA_DIR: dir, DATABASE_URL: '', SIDELINE_ADMIN_EMAIL: '', SIDELINE_ADMIN_PASSWORD: '' });
      first.proc.kill('SIGTERM');
      await first.exited;
      const match = /email:\s+(\S+)\n\s+password: (\S+)/.exec(first.output());
      assert.ok(match, first.output());
      // The password is printed for the operator, never through the JSON logger.
      assert.ok(!first.output().split('\n').some((line) => line.startsWith('{') && line.includes(match[2]!)));

      const second = await startServer({ DATA_DIR: dir, DATABASE_URL: '', SIDELINE_ADMIN_EMAIL: '', SIDELINE_ADMIN_PASSWORD: '' });
      try {
        assert.ok(!second.output().includes('password:'), 'the password is shown only once');
        const auth = `Basic ${Buffer.from(`${match[1]}:${match[2]}`).toString('base64')}`;
        const me = await fetch(`${second.baseUrl}/api/v2/users/me.json`, { headers: { authorization: auth } });
        assert.equal(me.status, 200);
        assert.equal(((await me.json()) as { user: { role: string } }).user.role, 'admin');
      } finally {
        second.proc.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`the reference's curl samples against a real socket (${STORE_KIND})`, () => {
  let server: ServerProcess;
  let dir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void> = async () => undefined;

  before(async () => {
    dir = tempDir();
    env = { DATA_DIR: dir, DATABASE_URL: '', ...ADMIN };
    const serverUrl = process.env['DATABASE_URL'];
    if (serverUrl) {
      const database = await createTempDatabase(serverUrl, 'sideline_proc');
      env['DATABASE_URL'] = database.url;
      dropDatabase = database.drop;
    }
    server = await startServer(env);
  });

  after(async () => {
    server.proc.kill('SIGTERM');
    await server.exited;
    await dropDatabase();
    rmSync(dir, { recursive: true, force: true });
  });

  async function curl(args: string[]): Promise<{ status: number; body: unknown }> {
    const { stdout } = await exec('curl', ['-s', '-w', '\n%{http_code}', ...args]);
    const lines = stdout.trimEnd().split('\n');
    const status = Number(lines.pop());
    const text = lines.join('\n');
    return { status, body: text ? JSON.parse(text) : null };
  }

  it('List, Create, Show (singular path as printed) and Update, as the reference prints them', async () => {
    const host = server.baseUrl;
    const user = `${ADMIN.SIDELINE_ADMIN_EMAIL}:${ADMIN.SIDELINE_ADMIN_PASSWORD}`;
    const ticket = await curl([`${host}/api/v2/tickets.json`, '-d', '{"ticket":{"subject":"Printer","comment":{"body":"It is on fire"}}}', '-H', 'Content-Type: application/json', '-u', user, '-X', 'POST']);
    assert.equal(ticket.status, 201);
    const ticketId = (ticket.body as { ticket: { id: number } }).ticket.id;

    // Create: the sample's body, without its attachment id (that upload does not exist here).
    const created = await curl([
      `${host}/api/v2/tickets/${ticketId}/side_conversations.json`,
      '-d',
      '{"message": {"subject": "My printer is on fire!", "body": "The smoke is very colorful.", "to": [{"email": "someone@example.com"}]}}',
      '-H',
      'Content-Type: application/json',
      '-v',
      '-u',
      user,
      '-X',
      'POST',
    ]);
    assert.equal(created.status, 201);
    const envelope = created.body as { event: { type: string }; side_conversation: { id: string; subject: string; url: string }; updates: object };
    assert.equal(envelope.event.type, 'create');
    assert.equal(envelope.side_conversation.subject, 'My printer is on fire!');
    assert.equal(envelope.side_conversation.url, `${host}/api/v2/tickets/${ticketId}/side_conversations/${envelope.side_conversation.id}`);
    assert.deepEqual(envelope.updates, {});
    const id = envelope.side_conversation.id;

    const list = await curl([`${host}/api/v2/tickets/${ticketId}/side_conversations.json`, '-v', '-u', user]);
    assert.equal(list.status, 200);
    const listed = list.body as { count: number; side_conversations: Array<{ id: string }>; next_page: null };
    assert.equal(listed.count, 1);
    assert.equal(listed.side_conversations[0]!.id, id);
    assert.equal(listed.next_page, null);

    const shown = await curl([`${host}/api/v2/tickets/${ticketId}/side_conversation/${id}.json`, '-v', '-u', user]);
    assert.equal(shown.status, 200);
    assert.equal((shown.body as { side_conversation: { id: string } }).side_conversation.id, id);

    const updated = await curl([
      `${host}/api/v2/tickets/${ticketId}/side_conversations/${id}.json`,
      '-d',
      '{"side_conversation": {"state": "closed"}}',
      '-H',
      'Content-Type: application/json',
      '-v',
      '-u',
      user,
      '-X',
      'PUT',
    ]);
    assert.equal(updated.status, 200);
    const after = updated.body as { side_conversation: { state: string }; updates: { state: string }; event: { type: string } };
    assert.equal(after.side_conversation.state, 'closed');
    assert.deepEqual(after.updates, { state: 'closed' });
    assert.equal(after.event.type, 'update');
  });

  it('a token made with `sideline create-token` authenticates as email/token:TOKEN', async () => {
    const cli = runSideline(['create-token', '--email', ADMIN.SIDELINE_ADMIN_EMAIL, '--description', 'curl'], env);
    // The embedded store is locked by the running server: the CLI must say so rather than corrupt it.
    const code = await cli.exited;
    if (!process.env['DATABASE_URL']) {
      assert.equal(code, 1);
      assert.match(cli.output(), /in use by another Sideline process/);
      return;
    }
    assert.equal(code, 0, cli.output());
    const token = cli.output().split('\n')[0]!.trim();
    assert.match(token, /^[A-Za-z0-9_-]{40}$/);
    const me = await curl([`${server.baseUrl}/api/v2/users/me.json`, '-u', `${ADMIN.SIDELINE_ADMIN_EMAIL}/token:${token}`]);
    assert.equal(me.status, 200);
    assert.equal((me.body as { user: { email: string } }).user.email, ADMIN.SIDELINE_ADMIN_EMAIL);
  });
});

describe('create-token on the embedded store', () => {
  it('prints a token once and stores only its hash', async () => {
    const dir = tempDir();
    try {
      const cli = runSideline(['create-token', '--email', ADMIN.SIDELINE_ADMIN_EMAIL], { DATA_DIR: dir, DATABASE_URL: '', ...ADMIN });
      assert.equal(await cli.exited, 0, cli.output());
      const token = cli.output().split('\n')[0]!.trim();
      assert.match(token, /^[A-Za-z0-9_-]{40}$/);
      const server = await startServer({ DATA_DIR: dir, DATABASE_URL: '', ...ADMIN });
      try {
        const auth = `Basic ${Buffer.from(`${ADMIN.SIDELINE_ADMIN_EMAIL}/token:${token}`).toString('base64')}`;
        const ok = await fetch(`${server.baseUrl}/api/v2/users/me.json`, { headers: { authorization: auth } });
        assert.equal(ok.status, 200);
        const wrong = await fetch(`${server.baseUrl}/api/v2/users/me.json`, {
          headers: { authorization: `Basic ${Buffer.from(`${ADMIN.SIDELINE_ADMIN_EMAIL}/token:${token}x`).toString('base64')}` },
        });
        assert.equal(wrong.status, 401);
        assert.deepEqual(await wrong.json(), { error: "Couldn't authenticate you" });
      } finally {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
