/** GET /api/v2/api_tokens pages as every Zendesk list does: count, next_page, previous_page. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';

interface TokenList {
  api_tokens: Array<{ id: number; token?: string; token_hint: string }>;
  count: number;
  next_page: string | null;
  previous_page: string | null;
}

describe('API token list paging', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    for (let i = 0; i < 3; i += 1) expectStatus(await t.request({ method: 'POST', url: '/api/v2/api_tokens.json', payload: { api_token: { description: `t${i}` } } }), 201);
  });
  after(() => t.close());

  it('count, next_page and previous_page follow per_page and page; tokens are never listed', async () => {
    const first = await t.request({ method: 'GET', url: '/api/v2/api_tokens.json?per_page=2', headers: { host: 'support.example.test' } });
    expectStatus(first, 200);
    const one = first.json<TokenList>();
    assert.equal(one.count, 3);
    assert.equal(one.api_tokens.length, 2);
    assert.equal(one.previous_page, null);
    assert.equal(one.next_page, 'http://support.example.test/api/v2/api_tokens.json?page=2&per_page=2');
    assert.ok(one.api_tokens.every((token) => token.token === undefined && token.token_hint.length > 0));

    const second = await t.request({ method: 'GET', url: '/api/v2/api_tokens.json?page=2&per_page=2', headers: { host: 'support.example.test' } });
    const two = second.json<TokenList>();
    assert.equal(two.api_tokens.length, 1);
    assert.equal(two.next_page, null);
    assert.equal(two.previous_page, 'http://support.example.test/api/v2/api_tokens.json?page=1&per_page=2');
    assert.notEqual(two.api_tokens[0]!.id, one.api_tokens[1]!.id);
  });

  it('page=0 is 400 InvalidParameter', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v2/api_tokens.json?page=0' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ error: string }>().error, 'InvalidParameter');
  });
});
