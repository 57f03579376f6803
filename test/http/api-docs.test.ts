/** The human-readable API reference at /api/v2/docs: bundled (nothing from a CDN), public, with examples. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { ROOT } from '../helpers/processes.js';

interface Media {
  schema?: object;
  examples?: Record<string, { value: unknown }>;
  example?: unknown;
}
interface Operation {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

/** Operations whose success answer has no body to exemplify, and why. */
const BODILESS = [
  'delete /api/v2/sideline/session 204', // the cookie is cleared; nothing to say
  'delete /api/v2/api_tokens/{id} 204',
  'delete /api/v2/sideline/integrations/slack/{team_id} 204',
  'delete /api/v2/sideline/integrations/teams 204',
  // Zendesk answers Delete Membership with 204 No Content.
  'delete /api/v2/group_memberships/{group_membership_id} 204',
  // Zendesk answers webhook updates and deletes with 204 No Content.
  'put /api/v2/webhooks/{webhook_id} 204',
  'patch /api/v2/webhooks/{webhook_id} 204',
  'delete /api/v2/webhooks/{webhook_id} 204',
  // The stored file's own bytes, of whatever type it was uploaded as.
  'get /api/v2/tickets/side_conversations/attachments/{attachment_id}/download/{*} 200',
  'get /api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}/attachments/{attachment_id}/download/{*} 200',
];

/** The formats the schemas use, strictly enough that an example of the wrong shape fails. */
const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  uri: /^https?:\/\/[^\s]+$/,
};

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

async function openApiDocument(app: TestApp): Promise<OpenApiDocument> {
  return (await app.request({ method: 'GET', url: '/api/v2/openapi.json' })).json<OpenApiDocument>();
}

function* operationsOf(doc: OpenApiDocument): Generator<{ method: string; path: string; operation: Operation }> {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) if (METHODS.has(method)) yield { method, path, operation };
  }
}

/** The status a call that works answers with: the lowest 2xx the operation documents. */
function successStatus(operation: Operation): string | undefined {
  return Object.keys(operation.responses).filter((s) => /^2\d\d$/.test(s)).sort()[0];
}

const hasExample = (content: Record<string, Media> | undefined) =>
  Object.values(content ?? {}).some((media) => media.example !== undefined || Object.keys(media.examples ?? {}).length > 0);

describe('API reference page', () => {
  let t: TestApp;
  before(async () => (t = await startTestApp()));
  after(() => t.close());

  it('is served without credentials, and every file it loads comes from this server', async () => {
    const page = await t.request({ method: 'GET', url: '/api/v2/docs', auth: null });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body, /Sideline API reference/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /https:|http:|\*/, 'the CSP allows no other host');

    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), 'the bundle is referenced');
    for (const asset of assets) {
      assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset} is local`);
      const url = new URL(asset, 'http://localhost/api/v2/docs/').pathname;
      const res = await t.request({ method: 'GET', url, auth: null });
      assert.equal(res.statusCode, 200, url);
      assert.ok(res.rawPayload.length > 0, url);
      if (url.endsWith('.js')) assert.doesNotMatch(res.body, /unpkg\.com|cdn\.jsdelivr|cdnjs/, `${url} loads nothing from a CDN`);
    }
    const init = await t.request({ method: 'GET', url: '/api/v2/docs/static/swagger-initializer.js', auth: null });
    assert.match(init.body, /"validatorUrl":\s*null/, 'the online validator badge is off');
  });

  it('every operation in the OpenAPI document has a response example for its success status, and a request example for its JSON body', async () => {
    const doc = await openApiDocument(t);
    const missing: string[] = [];
    const withoutBody: string[] = [];
    for (const { method, path, operation } of operationsOf(doc)) {
      const status = successStatus(operation);
      assert.ok(status, `${method} ${path} documents a success status`);
      const content = operation.responses[status]?.content;
      if (!content || Object.keys(content).length === 0) withoutBody.push(`${method} ${path} ${status}`);
      else if (!hasExample(content)) missing.push(`${method} ${path}: no ${status} example`);
      const json = operation.requestBody?.content['application/json'];
      if (json && !hasExample({ 'application/json': json })) missing.push(`${method} ${path}: no request body example`);
    }
    assert.deepEqual(missing, []);
    // Only these answer without a documented body: the 204s, and the downloads (the file's own bytes).
    // A new operation joins this list only on purpose, with a reason.
    assert.deepEqual(withoutBody.sort(), [...BODILESS].sort());
    assert.equal(Object.keys(doc.paths).some((p) => p.startsWith('/api/v2/docs')), false, "the page's own routes are not API operations");
  });

  it('every example in the OpenAPI document is valid against the schema it illustrates', async () => {
    const doc = await openApiDocument(t);
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addKeyword({ keyword: 'example' });
    for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
    let checked = 0;
    for (const { method, path, operation } of operationsOf(doc)) {
      const media = [
        ...Object.entries(operation.requestBody?.content ?? {}).map(([type, m]) => [`request ${type}`, m] as const),
        ...Object.entries(operation.responses).flatMap(([status, r]) => Object.entries(r.content ?? {}).map(([type, m]) => [`${status} ${type}`, m] as const)),
      ];
      for (const [where, { schema, example, examples }] of media) {
        const values = [...(example === undefined ? [] : [example]), ...Object.values(examples ?? {}).map((e) => e.value)];
        if (values.length === 0) continue;
        assert.ok(schema, `${method} ${path} ${where} has a schema`);
        const validate = ajv.compile(schema);
        for (const value of values) {
          checked += 1;
          assert.ok(validate(value), `${method} ${path} ${where}: ${ajv.errorsText(validate.errors)}`);
        }
      }
    }
    assert.ok(checked >= 40, `${checked} examples checked`);
  });

  it("the event stream's example is Server-Sent Events whose data are the documented side conversation and event", async () => {
    const doc = await openApiDocument(t);
    const media = doc.paths['/api/v2/sideline/stream']?.get?.responses['200']?.content?.['text/event-stream'];
    assert.ok(media && typeof media.example === 'string', 'the stream documents a text/event-stream example');
    type Props = { properties: Record<string, { items?: object } & object> };
    const showSchema = doc.paths['/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}']!.get!.responses['200']!.content!['application/json']!.schema as Props;
    const eventsSchema = doc.paths['/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}/events']!.get!.responses['200']!.content!['application/json']!.schema as Props;
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
    const sideConversation = ajv.compile(showSchema.properties['side_conversation']!);
    const event = ajv.compile(eventsSchema.properties['events']!.items!);
    const messages = (media.example as string).split('\n\n').filter((block) => block !== '' && !block.startsWith(':') && !block.startsWith('retry:'));
    assert.ok(messages.length >= 1, 'at least one message');
    let previous = 0;
    for (const block of messages) {
      const fields = Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]));
      const cursor = Number(fields['id']);
      assert.ok(Number.isInteger(cursor) && cursor > previous, 'cursors increase');
      previous = cursor;
      const data = JSON.parse(fields['data'] ?? 'null') as { type: string; side_conversation: unknown; event: unknown };
      assert.equal(fields['event'], data.type, 'the event field names the data type');
      assert.ok(sideConversation(data.side_conversation), ajv.errorsText(sideConversation.errors));
      assert.ok(event(data.event), ajv.errorsText(event.errors));
    }
  });

  it('the format checks of the example validation refuse what is not of the format', () => {
    const ajv = new Ajv({ strict: false });
    for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
    for (const format of Object.keys(FORMATS)) assert.equal(ajv.validate({ type: 'string', format }, 'not one'), false, format);
  });

  it('the README links the page', () => {
    assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\/api\/v2\/docs\b/);
  });
});
