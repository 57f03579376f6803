import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { basic, countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';

interface SimpleErrorBody {
  error: string;
  description: string;
}
interface TicketEnvelope {
  ticket: { id: number; url: string; subject: string };
}
interface UserEnvelope {
  user: { id: number; url: string };
}
interface UserListBody {
  users: Array<{ id: number; url: string }>;
  count: number;
  next_page: string | null;
  previous_page: string | null;
}
interface TicketListBody {
  tickets: Array<{ id: number; url: string }>;
  count: number;
  next_page: string | null;
  previous_page: string | null;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string };
  paths: Record<string, Record<string, unknown>>;
}

const SIDE_CONVERSATIONS = '/api/v2/tickets/{ticket_id}/side_conversations';
const SIDE_CONVERSATION = '/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}';

function assertError(res: LightMyRequestResponse, status: number, error: string): SimpleErrorBody {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json<SimpleErrorBody>();
  assert.equal(body.error, error, res.body);
  assert.equal(typeof body.description, 'string');
  assert.ok(body.description.length > 0);
  return body;
}

/** Every `url`, `next_page` and `previous_page` string anywhere in a JSON body. */
function urlsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) urlsIn(v, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if ((key === 'url' || key === 'next_page' || key === 'previous_page' || key === 'content_url') && typeof v === 'string') found.push(v);
      else urlsIn(v, found);
    }
  }
  return found;
}

describe(`HTTP behaviour (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let endUser: TestUser;
  let sideConversationId: string;

  before(async () => {
    t = await startTestApp();
    agent = await t.createUser('agent');
    endUser = await t.createUser('end-user');
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Printer', comment: { body: 'It burns' } } } });
    assert.equal(ticket.statusCode, 201, ticket.body);
    const sc = await t.request({
      method: 'POST',
      url: '/api/v2/tickets/1/side_conversations',
      payload: { message: { subject: 'Parts', body: 'Do you have a new fuser?', to: [{ email: 'vendor@example.com' }] } },
    });
    assert.equal(sc.statusCode, 201, sc.body);
    sideConversationId = sc.json<{ side_conversation: { id: string } }>().side_conversation.id;
  });
  after(async () => t.close());

  describe('paths with and without .json', () => {
    it('GET answers the same body on both spellings', async () => {
      const paths = [
        '/api/v2/users',
        '/api/v2/users/me',
        `/api/v2/users/${agent.id}`,
        '/api/v2/groups',
        '/api/v2/group_memberships',
        '/api/v2/api_tokens',
        '/api/v2/tickets',
        '/api/v2/tickets/1',
        '/api/v2/tickets/1/comments',
        '/api/v2/tickets/1/side_conversations',
        `/api/v2/tickets/1/side_conversations/${sideConversationId}`,
        '/api/v2/openapi',
        '/healthz',
        '/readyz',
      ];
      for (const path of paths) {
        const plain = await t.request({ method: 'GET', url: path });
        const suffixed = await t.request({ method: 'GET', url: `${path}.json` });
        assert.equal(plain.statusCode, 200, `${path}: ${plain.body}`);
        assert.equal(suffixed.statusCode, 200, `${path}.json: ${suffixed.body}`);
        assert.deepEqual(suffixed.json(), plain.json(), path);
      }
      const withQuery = await t.request({ method: 'GET', url: '/api/v2/users.json?per_page=1' });
      assert.equal(withQuery.statusCode, 200, withQuery.body);
      assert.equal(withQuery.json<UserListBody>().users.length, 1);
      assert.ok(withQuery.json<UserListBody>().next_page);
    });

    it('the singular /side_conversation/{id} spelling of the reference sample works too', async () => {
      for (const url of [`/api/v2/tickets/1/side_conversation/${sideConversationId}`, `/api/v2/tickets/1/side_conversation/${sideConversationId}.json`]) {
        const res = await t.request({ method: 'GET', url });
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        assert.equal(res.json<{ side_conversation: { id: string } }>().side_conversation.id, sideConversationId);
      }
    });

    it('POST, PUT and DELETE work with .json', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v2/tickets.json', payload: { ticket: { subject: 'Suffixed', comment: { body: 'json' } } } });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json<TicketEnvelope>().ticket.id;
      assert.equal(created.json<TicketEnvelope>().ticket.subject, 'Suffixed');

      const updated = await t.request({ method: 'PUT', url: `/api/v2/tickets/${id}.json`, payload: { ticket: { subject: 'Suffixed again' } } });
      assert.equal(updated.statusCode, 200, updated.body);
      assert.equal(updated.json<TicketEnvelope>().ticket.subject, 'Suffixed again');

      const token = await t.request({ method: 'POST', url: '/api/v2/api_tokens.json', payload: { api_token: { description: 'json' } } });
      assert.equal(token.statusCode, 201, token.body);
      const tokenId = token.json<{ api_token: { id: number } }>().api_token.id;
      const deleted = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${tokenId}.json` });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');

      assert.deepEqual((await t.request({ method: 'GET', url: '/api/v2/tickets/999.json' })).json(), NOT_FOUND);
    });
  });

  describe('request bodies', () => {
    it('Content-Type: application/json with an empty body on a GET is not a 400', async () => {
      for (const contentType of ['application/json', 'application/json; charset=utf-8']) {
        for (const payload of [undefined, '']) {
          const res = await t.request({ method: 'GET', url: '/api/v2/tickets', payload, headers: { 'content-type': contentType } });
          assert.equal(res.statusCode, 200, `${contentType} ${JSON.stringify(payload)}: ${res.body}`);
          assert.ok(Array.isArray(res.json<TicketListBody>().tickets));
          assert.equal(res.json<TicketListBody>().count, res.json<TicketListBody>().tickets.length);
        }
      }
      const me = await t.request({ method: 'GET', url: '/api/v2/users/me.json', payload: '', headers: { 'content-type': 'application/json' } });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json<UserEnvelope>().user.id, t.admin.id);
    });

    it('Content-Type: application/json with an empty body on a bodiless POST or DELETE is not a 400', async () => {
      const token = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: {} } });
      assert.equal(token.statusCode, 201, token.body);
      const tokenId = token.json<{ api_token: { id: number } }>().api_token.id;
      const deleted = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${tokenId}`, payload: '', headers: { 'content-type': 'application/json' } });
      assert.equal(deleted.statusCode, 204, deleted.body);

      for (const payload of [undefined, '', '   ']) {
        const res = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload, headers: { 'content-type': 'application/json' } });
        assert.notEqual(res.statusCode, 400, res.body);
        assert.ok(res.statusCode < 500, res.body);
        const body = res.json<{ error?: unknown; api_token?: unknown }>();
        assert.notEqual(body.error, 'InvalidJSON', res.body);
        // Either the body counts as {} and is validated, or the token is created.
        assert.ok(body.error === 'RecordInvalid' || body.api_token !== undefined, res.body);
      }
    });

    it('malformed JSON is a 400 InvalidJSON and changes nothing', async () => {
      const before = await countRows(t.db, 'tickets');
      for (const payload of ['{"ticket":', '{ticket: {}}', "{'ticket':{}}", 'nul', '{"ticket":{"comment":{"body":"x"}}}}', '[1,2']) {
        const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload, headers: { 'content-type': 'application/json' } });
        assertError(res, 400, 'InvalidJSON');
      }
      assert.equal(await countRows(t.db, 'tickets'), before);
    });

    it('a JSON body sent as text/plain is a 400 InvalidJSON, not a 422 or a 500', async () => {
      const before = await countRows(t.db, 'groups');
      const res = await t.request({
        method: 'POST',
        url: '/api/v2/groups',
        payload: JSON.stringify({ group: { name: 'Plain' } }),
        headers: { 'content-type': 'text/plain' },
      });
      assertError(res, 400, 'InvalidJSON');
      assert.equal(await countRows(t.db, 'groups'), before);
    });

    it('other content types are a 400 InvalidJSON, not a 415 or a 500', async () => {
      const before = await countRows(t.db, 'groups');
      for (const contentType of ['application/xml', 'application/x-www-form-urlencoded', 'image/png']) {
        const res = await t.request({ method: 'POST', url: '/api/v2/groups', payload: 'group[name]=x', headers: { 'content-type': contentType } });
        assertError(res, 400, 'InvalidJSON');
      }
      assert.equal(await countRows(t.db, 'groups'), before);
    });

    it('prototype-poisoning bodies are a 400 and nothing is polluted', async () => {
      const before = await countRows(t.db, 'groups');
      for (const payload of [
        '{"__proto__":{"x":1}}',
        '{"group":{"name":"Poison","__proto__":{"isAdmin":true}}}',
        '{"group":{"name":"Poison","constructor":{"prototype":{"isAdmin":true}}}}',
      ]) {
        const res = await t.request({ method: 'POST', url: '/api/v2/groups', payload, headers: { 'content-type': 'application/json' } });
        assertError(res, 400, 'InvalidJSON');
      }
      const probe: Record<string, unknown> = {};
      assert.equal(probe['x'], undefined);
      assert.equal(probe['isAdmin'], undefined);
      assert.equal(await countRows(t.db, 'groups'), before);
      const alive = await t.request({ method: 'GET', url: '/healthz', auth: null });
      assert.equal(alive.statusCode, 200);
      assert.deepEqual(alive.json(), { status: 'ok' });
    });
  });

  describe('routing, health and documentation', () => {
    it('unknown endpoints are 404 InvalidEndpoint, with or without credentials', async () => {
      const attempts: Array<[string, string, string | null | undefined]> = [
        ['GET', '/api/v2/nope', undefined],
        ['GET', '/api/v2/nope.json', undefined],
        ['GET', '/api/v2/nope', null],
        ['POST', '/api/v2/widgets', undefined],
        ['DELETE', '/api/v2/tickets', undefined],
        ['PATCH', '/api/v2/tickets/1', undefined],
      ];
      for (const [method, url, auth] of attempts) {
        const res = await t.request({ method: method as 'GET', url, auth });
        assertError(res, 404, 'InvalidEndpoint');
      }
    });

    it('GET /healthz and /readyz answer 200 {status:"ok"} without credentials', async () => {
      for (const url of ['/healthz', '/readyz']) {
        for (const auth of [null, 'Basic bm9ib2R5OndoYXRldmVy']) {
          const res = await t.request({ method: 'GET', url, auth });
          assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
          assert.deepEqual(res.json(), { status: 'ok' });
        }
      }
    });

    it('GET /api/v2/openapi.json documents the side-conversation paths', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/openapi.json', auth: null });
      assert.equal(res.statusCode, 200, res.body);
      const doc = res.json<OpenApiDocument>();
      assert.equal(doc.openapi, '3.0.3');
      assert.equal(typeof doc.info.title, 'string');
      const list = doc.paths[SIDE_CONVERSATIONS];
      const one = doc.paths[SIDE_CONVERSATION];
      assert.ok(list, `missing ${SIDE_CONVERSATIONS} in ${Object.keys(doc.paths).join(', ')}`);
      assert.ok(one, `missing ${SIDE_CONVERSATION} in ${Object.keys(doc.paths).join(', ')}`);
      assert.ok(list['get'] && list['post'], `list methods: ${Object.keys(list).join(', ')}`);
      assert.ok(one['get'] && one['put'], `show methods: ${Object.keys(one).join(', ')}`);
      assert.equal(list['put'], undefined);
      assert.equal(one['post'], undefined);
      assert.ok(doc.paths['/api/v2/tickets']?.['post']);
      assert.ok(doc.paths['/api/v2/tickets/{id}']?.['put']);
      // No Express-style ":param" paths leak into the document.
      assert.ok(!Object.keys(doc.paths).some((p) => p.includes(':')), Object.keys(doc.paths).join(', '));
    });
  });

  describe('authentication headers', () => {
    it('every 401 carries WWW-Authenticate and the Zendesk body', async () => {
      const headers: Array<string | null> = [
        null,
        basic(t.admin.email, 'wrong password'),
        basic('nobody@example.com', 'whatever'),
        basic(`${t.admin.email}/token`, 'not-a-token'),
        'Basic !!!not-base64!!!',
        'Basic ',
        'Bearer not-a-token',
        'Digest username="admin"',
        'garbage',
      ];
      for (const auth of headers) {
        for (const [method, url] of [
          ['GET', '/api/v2/tickets'],
          ['GET', '/api/v2/users/me'],
          ['POST', '/api/v2/users'],
        ] as const) {
          const res = await t.request({ method, url, auth, payload: method === 'POST' ? { user: { name: 'x', email: 'x@example.com' } } : undefined });
          assert.equal(res.statusCode, 401, `${method} ${url} with ${auth}: ${res.body}`);
          assert.deepEqual(res.json(), UNAUTHORIZED);
          assert.match(String(res.headers['www-authenticate'] ?? ''), /^Basic\b/i, `${method} ${url} with ${auth}`);
        }
      }
    });

    it('no response other than a 429 carries Retry-After', async () => {
      const responses: Array<[string, LightMyRequestResponse]> = [
        ['200', await t.request({ method: 'GET', url: '/api/v2/tickets' })],
        ['201', await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Retry' } } })],
        ['400', await t.request({ method: 'POST', url: '/api/v2/groups', payload: '{', headers: { 'content-type': 'application/json' } })],
        ['401', await t.request({ method: 'GET', url: '/api/v2/tickets', auth: null })],
        ['403', await t.request({ method: 'GET', url: '/api/v2/tickets', auth: endUser.auth })],
        ['404', await t.request({ method: 'GET', url: '/api/v2/tickets/999' })],
        ['404', await t.request({ method: 'GET', url: '/api/v2/nope' })],
        ['422', await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { comment: {} } } })],
        ['200', await t.request({ method: 'GET', url: '/healthz', auth: null })],
        ['201', await t.request({ method: 'POST', url: '/api/v2/tickets/1/side_conversations', payload: { message: { subject: 'More', body: 'More', to: [{ email: 'vendor@example.com' }] } } })],
      ];
      for (const [status, res] of responses) {
        assert.equal(String(res.statusCode), status, res.body);
        assert.equal(res.headers['retry-after'], undefined, `${status} carries Retry-After`);
        assert.ok(res.body.length > 0);
        const body = res.json<Record<string, unknown>>();
        if (res.statusCode >= 400) assert.ok('error' in body, res.body);
      }
    });
  });

  describe('absolute URLs', () => {
    // Hosts begin with `support.`, the first account's subdomain: one naming no account is a 404 (test/accounts/accounts.test.ts).
    it('next_page and url fields use the Host the client used', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/users?per_page=1', headers: { host: 'support.example.test:8080' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<UserListBody>();
      assert.ok(body.next_page, res.body);
      assert.ok(body.next_page.startsWith('http://support.example.test:8080/'), body.next_page);
      assert.ok(body.next_page.startsWith('http://support.example.test:8080/api/v2/users.json?'), body.next_page);
      assert.ok(body.users[0]!.url.startsWith('http://support.example.test:8080/api/v2/users/'), body.users[0]!.url);

      const followed = await t.request({ method: 'GET', url: new URL(body.next_page).pathname + new URL(body.next_page).search, headers: { host: 'support.example.test:8080' } });
      const page2 = followed.json<UserListBody>();
      assert.equal(page2.previous_page?.startsWith('http://support.example.test:8080/api/v2/users.json?'), true, followed.body);

      const ticket = await t.request({ method: 'GET', url: '/api/v2/tickets/1', headers: { host: 'support.example.org' } });
      assert.equal(ticket.json<TicketEnvelope>().ticket.url, 'http://support.example.org/api/v2/tickets/1.json');
    });

    it('a forged Host with markup or spaces does not end up in URLs', async () => {
      for (const host of ['support.evil<script>.example', 'support.evil.example"><img src=x onerror=alert(1)>', 'support.evil .example', 'support.a b', "support.x'onmouseover='alert(1)"]) {
        const res = await t.request({ method: 'GET', url: '/api/v2/users?per_page=1', headers: { host } });
        assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
        const urls = urlsIn(res.json());
        assert.ok(urls.length >= 2, res.body);
        for (const url of urls) {
          assert.match(url, /^https?:\/\/[A-Za-z0-9.\-:[\]]+\/api\/v2\//, `${host} → ${url}`);
          assert.ok(!/[<>"' ]|evil|script/.test(url), `${host} → ${url}`);
        }
        assert.ok(!res.body.includes('<'), res.body);
      }
    });

    it('X-Forwarded-Host and X-Forwarded-Proto are ignored when no proxy is trusted', async () => {
      const res = await t.request({
        method: 'GET',
        url: '/api/v2/users/me',
        headers: { host: 'support.example.org', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<UserEnvelope>().user.url, `http://support.example.org/api/v2/users/${t.admin.id}.json`);
    });
  });
});

describe(`HTTP behaviour with PUBLIC_URL (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ publicUrl: 'https://help.example.com' });
  });
  after(async () => t.close());

  it('url and next_page fields start with the public URL, whatever the Host', async () => {
    for (const subject of ['One', 'Two']) {
      const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: subject } } }, headers: { host: 'support.internal:3000' } });
      assert.equal(res.statusCode, 201, res.body);
      assert.ok(res.json<TicketEnvelope>().ticket.url.startsWith('https://help.example.com/api/v2/tickets/'), res.body);
    }
    const me = await t.request({ method: 'GET', url: '/api/v2/users/me' });
    assert.equal(me.json<UserEnvelope>().user.url, `https://help.example.com/api/v2/users/${t.admin.id}.json`);

    const list = await t.request({ method: 'GET', url: '/api/v2/tickets?per_page=1', headers: { host: 'support.other.example.test:9' } });
    const body = list.json<TicketListBody>();
    assert.equal(body.count, 2);
    assert.equal(body.next_page, 'https://help.example.com/api/v2/tickets.json?page=2&per_page=1');
    assert.ok(body.tickets[0]!.url.startsWith('https://help.example.com/'));

    const group = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'G' } }, headers: { host: 'support.evil<x>' } });
    assert.equal(group.statusCode, 201, group.body);
    for (const url of urlsIn(group.json())) assert.ok(url.startsWith('https://help.example.com/'), url);
  });
});

describe(`HTTP behaviour with a small body limit (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ bodyLimitBytes: 2048 });
  });
  after(async () => t.close());

  it('a body over the limit is a 413 PayloadTooLarge and creates nothing', async () => {
    const payload = JSON.stringify({ ticket: { subject: 'Big', comment: { body: 'x'.repeat(3000) } } });
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload, headers: { 'content-type': 'application/json' } });
    assertError(res, 413, 'PayloadTooLarge');
    assert.equal(res.headers['retry-after'], undefined);
    assert.equal(await countRows(t.db, 'tickets'), 0);
  });

  it('a streamed body without Content-Length over the limit is a 413 too', async () => {
    const json = JSON.stringify({ ticket: { subject: 'Streamed', comment: { body: 'z'.repeat(3000) } } });
    const payload = Readable.from([Buffer.from(json.slice(0, 1500)), Buffer.from(json.slice(1500))]);
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload, headers: { 'content-type': 'application/json' } });
    assertError(res, 413, 'PayloadTooLarge');
    assert.equal(await countRows(t.db, 'tickets'), 0);
  });

  it('a body under the limit still works, and the app keeps serving', async () => {
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Small', comment: { body: 'x'.repeat(1500) } } } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<TicketEnvelope>().ticket.id, 1);
    assert.equal(res.json<TicketEnvelope>().ticket.subject, 'Small');
  });

  it('a PUT over the limit is a 413 too, and leaves the ticket alone', async () => {
    const res = await t.request({ method: 'PUT', url: '/api/v2/tickets/1', payload: { ticket: { subject: 'Changed', comment: { body: 'y'.repeat(4000) } } } });
    assertError(res, 413, 'PayloadTooLarge');
    const ticket = await t.request({ method: 'GET', url: '/api/v2/tickets/1' });
    assert.equal(ticket.json<TicketEnvelope>().ticket.subject, 'Small');
  });
});
