/**
 * Unauthenticated bodies are not parsed (issue 10): Slack's signature and Teams' token are
 * checked on the raw request first, and a signed body is parsed within a depth and size cap.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';
import { nestingDepth, parseBoundedJson, JsonTooComplex } from '../../src/http/bounded-json.js';

const SIGNING_SECRET = `sign-${randomBytes(8).toString('hex')}`;
const TEAM = 'T0BOUNDED';

/** 900 KB of nesting, as in the finding, naming a team so the raw lookup finds a workspace. */
const NESTED = `{"team_id":"${TEAM}","type":"event_callback","event":${'['.repeat(450_000)}${']'.repeat(450_000)}}`;

function sign(raw: string, timestamp = String(Math.floor(Date.now() / 1000))) {
  return { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${timestamp}:${raw}`).digest('hex')}` };
}

describe('bounded JSON', () => {
  it('counts nesting outside strings only, and refuses what is over the caps before parsing', () => {
    assert.equal(nestingDepth('{"a":[1,{"b":"[[[[{{"}]}'), 3);
    assert.equal(nestingDepth('"\\"[["'), 0);
    assert.deepEqual(parseBoundedJson('{"a":[1]}', { maxBytes: 100, maxDepth: 2 }), { a: [1] });
    assert.throws(() => parseBoundedJson('[[[1]]]', { maxBytes: 100, maxDepth: 2 }), JsonTooComplex);
    assert.throws(() => parseBoundedJson('"xxxxxxxx"', { maxBytes: 5, maxDepth: 2 }), JsonTooComplex);
    assert.throws(() => parseBoundedJson('{', { maxBytes: 5, maxDepth: 2 }), SyntaxError);
  });
});

describe(`Slack and Teams check the raw request before parsing (${STORE_KIND})`, () => {
  let t: TestApp;
  const parsedSizes: number[] = [];
  const realParse = JSON.parse;

  before(async () => {
    t = await startTestApp({ encryptionKey: randomBytes(32).toString('hex') });
    const res = await t.request({ method: 'POST', url: '/api/v2/sideline/integrations/slack', payload: { slack_workspace: { team_id: TEAM, bot_token: 'xoxb-bounded', signing_secret: SIGNING_SECRET } } });
    expectStatus(res, 201);
  });
  after(async () => t.close());
  // Every JSON.parse of a large text during a request is recorded: none may happen before authentication.
  beforeEach(() => {
    parsedSizes.length = 0;
    JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
      if (typeof text === 'string' && text.length > 100_000) parsedSizes.push(text.length);
      return realParse(text, reviver);
    }) as typeof JSON.parse;
  });
  afterEach(() => {
    JSON.parse = realParse;
  });

  it('an unsigned 900 KB nested Slack body is refused (401) without being parsed', async () => {
    for (const headers of [{}, sign(NESTED.replace('event_callback', 'x'))]) {
      const res = await t.request({ method: 'POST', url: '/integrations/slack/events', auth: null, headers: { 'content-type': 'application/json', ...headers }, payload: NESTED });
      expectStatus(res, 401);
    }
    assert.deepEqual(parsedSizes, [], 'the body was parsed before its signature was checked');
  });

  it('a correctly signed but too deeply nested Slack body is a 400 InvalidJSON, not parsed', async () => {
    const res = await t.request({ method: 'POST', url: '/integrations/slack/events', auth: null, headers: { 'content-type': 'application/json', ...sign(NESTED) }, payload: NESTED });
    expectStatus(res, 400);
    assert.equal(res.json<{ error: string }>().error, 'InvalidJSON');
    assert.match(res.json<{ description: string }>().description, /nested deeper than 32/);
    assert.deepEqual(parsedSizes, []);
  });

  it('a signed url_verification still answers its challenge', async () => {
    const raw = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const res = await t.request({ method: 'POST', url: '/integrations/slack/events', auth: null, headers: { 'content-type': 'application/json', ...sign(raw) }, payload: raw });
    expectStatus(res, 200);
    assert.deepEqual(res.json(), { challenge: 'c-123' });
  });

  it('a Teams activity without a valid token is refused (401) without its body being parsed', async () => {
    for (const authorization of [undefined, 'Bearer forged.token.here']) {
      const res = await t.request({ method: 'POST', url: '/integrations/teams/messages', auth: null, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, payload: NESTED });
      expectStatus(res, 401);
    }
    assert.deepEqual(parsedSizes, [], 'the activity was parsed before its token was checked');
  });
});
