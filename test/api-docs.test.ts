/** The human-readable API reference at /api/v2/docs: bundled (nothing from a CDN), public, with examples. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { sideConversationExamples as ex } from '../src/side-conversations/examples.js';
import {
  CreateSideConversationBody,
  EventList,
  ListEnvelope,
  ReplyBody,
  ShowEnvelope,
  UpdateSideConversationBody,
  UploadSchema,
  WriteEnvelope,
} from '../src/side-conversations/schemas.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { ROOT } from './helpers/processes.js';

interface Media {
  examples?: Record<string, { value: unknown }>;
  example?: unknown;
}
interface Operation {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
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

  it('the OpenAPI document has request and response examples for every side conversation and attachment operation', async () => {
    const doc = (await t.request({ method: 'GET', url: '/api/v2/openapi.json' })).json<{ paths: Record<string, Record<string, Operation>> }>();
    const operations = [
      ['post', '/api/v2/tickets/{ticket_id}/side_conversations', '201'],
      ['get', '/api/v2/tickets/{ticket_id}/side_conversations', '200'],
      ['get', '/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}', '200'],
      ['put', '/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}', '200'],
      ['post', '/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}/reply', '200'],
      ['get', '/api/v2/tickets/{ticket_id}/side_conversations/{side_conversation_id}/events', '200'],
      ['get', '/api/v2/tickets/side_conversations/events', '200'],
      ['post', '/api/v2/tickets/side_conversations/attachments', '201'],
    ] as const;
    for (const [method, path, status] of operations) {
      const operation = doc.paths[path]?.[method];
      assert.ok(operation, `${method} ${path} is documented`);
      assert.ok(hasExample(operation.responses[status]?.content), `${method} ${path} has a ${status} example`);
      if (method !== 'get' && path !== '/api/v2/tickets/side_conversations/attachments') assert.ok(hasExample(operation.requestBody?.content), `${method} ${path} has a body example`);
    }
    assert.equal(Object.keys(doc.paths).some((p) => p.startsWith('/api/v2/docs')), false, "the page's own routes are not API operations");
  });

  it('the examples are valid against the schemas they illustrate', () => {
    if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v));
    const pairs: Array<[string, Parameters<typeof Value.Check>[0], unknown]> = [
      ['createBody', CreateSideConversationBody, ex.createBody],
      ['createResponse', WriteEnvelope, ex.createResponse],
      ['updateBody', UpdateSideConversationBody, ex.updateBody],
      ['updateResponse', WriteEnvelope, ex.updateResponse],
      ['replyBody', ReplyBody, ex.replyBody],
      ['replyResponse', WriteEnvelope, ex.replyResponse],
      ['showResponse', ShowEnvelope, ex.showResponse],
      ['listResponse', ListEnvelope, ex.listResponse],
      ['eventsResponse', EventList, ex.eventsResponse],
      ['uploadResponse', UploadSchema, ex.uploadResponse],
    ];
    for (const [name, schema, example] of pairs) {
      assert.deepEqual([...Value.Errors(schema, example)].map((e) => `${e.path}: ${e.message}`), [], name);
    }
  });

  it('the README links the page', () => {
    assert.match(readFileSync(join(ROOT, 'README.md'), 'utf8'), /\/api\/v2\/docs\b/);
  });
});
