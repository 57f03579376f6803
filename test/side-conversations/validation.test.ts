/**
 * Side Conversations REST API — Create refused: 422 RecordInvalid with nothing half-written; malformed, mistyped and odd bodies.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KIND } from '../helpers/app.js';
import type { ErrorBody, ListBody, ShowBody } from '../helpers/api-types.js';
import { agent, assertForbidden, assertInvalid, assertUnauthorized, counts, createTicket, detailsOf, emailSc, emptyGroup, endUser, get, group, item, otherAgent, post, put, REFERENCE_CREATE_BODY, refusedCreate, scPath, showSc, t, useSideConversationsApp } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('Create validation: 422 RecordInvalid and nothing half-written', () => {
    const TO = [{ email: 'someone@example.com' }];

    it('mixing email and Slack participants names the clashing properties', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ email: 'a@example.com' }, { slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      for (const property of ['email', 'slack_workspace_id', 'slack_channel_id']) assert.ok(description.includes(property), description);
    });

    it('mixing properties of two types in one participant object names them', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ email: 'a@example.com', support_group_id: group.id }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      assert.ok(description.includes('email') && description.includes('support_group_id'), description);
    });

    it('mixing a child ticket and Microsoft Teams names them (and creates no ticket)', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ support_group_id: group.id }, { msteams_channel_id: '19:abc@thread.tacv2' }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      assert.ok(description.includes('support_group_id') && description.includes('msteams_channel_id'), description);
    });

    it('an empty `to` list', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Nobody', body: 'x', to: [] } }, 'message.to');
    });

    it('a missing `to`', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Nobody', body: 'x' } }, 'message.to');
    });

    it('a participant with only a name', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Name only', body: 'x', to: [{ name: 'Just A Name' }] } }, 'message.to[0]');
    });

    it('a missing body', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'No body', to: TO } }, 'message.body');
    });

    it('a blank body', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Blank', body: '   \n\t ', to: TO } }, 'message.body');
    });

    it('a side-conversation external_ids value that is not a string', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Ext', body: 'x', to: TO }, external_ids: { 'conversation-external': 123 } },
        'external_ids.conversation-external',
        'external_ids',
      );
    });

    it('a message external_ids value that is not a string', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Ext', body: 'x', to: TO, external_ids: { 'message-external': { nested: 'xyz' } } } },
        'message.external_ids.message-external',
        'message.external_ids',
      );
    });

    it('external_ids that is not an object', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Ext', body: 'x', to: TO }, external_ids: ['zyx'] }, 'external_ids');
    });

    it('an unknown user_id', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Ghost', body: 'x', to: [{ user_id: 987654321 }] } }, 'message.to[0].user_id');
    });

    it('a user_id with an email that is not that user\'s', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Mismatch', body: 'x', to: [{ user_id: agent.id, email: 'someone-else@example.com' }] } },
        'message.to[0].email',
      );
    });

    it('a group that does not exist', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'No group', body: 'x', to: [{ support_group_id: 987654321 }] } }, 'message.to[0].support_group_id');
    });

    it('an agent who is not a member of the group', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Outsider', body: 'x', to: [{ support_group_id: emptyGroup.id, support_agent_id: otherAgent.id }] } },
        'message.to[0].support_agent_id',
      );
      assert.match(item(detailsOf(body, 'message.to[0].support_agent_id'), 0).description, /member/i);
    });

    it('a support_agent_id that is an end-user', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'End-user', body: 'x', to: [{ support_group_id: group.id, support_agent_id: endUser.id }] } },
        'message.to[0].support_agent_id',
      );
    });

    it('two Slack channels', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        {
          message: {
            subject: 'Two',
            body: 'x',
            to: [
              { slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' },
              { slack_workspace_id: 'T123ABC', slack_channel_id: 'C789GHI' },
            ],
          },
        },
        'message.to',
      );
    });

    it('a Slack participant without its channel id', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Half', body: 'x', to: [{ slack_workspace_id: 'T123ABC' }] } }, 'message.to[0].slack_channel_id');
    });

    it('two child-ticket groups', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Two', body: 'x', to: [{ support_group_id: group.id }, { support_group_id: emptyGroup.id }] } },
        'message.to',
      );
    });

    it('a subject with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Hello\r\nBcc: victim@example.com', body: 'x', to: TO } }, 'message.subject');
    });

    it('a subject with a bare LF', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Hello\nX-Injected: 1', body: 'x', to: TO } }, 'message.subject');
    });

    it('a participant name with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Name', body: 'x', to: [{ email: 'someone@example.com', name: 'Bob\r\nBcc: victim@example.com' }] } },
        'message.to[0].name',
      );
    });

    it('an email address with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Addr', body: 'x', to: [{ email: 'someone@example.com\r\nBcc: victim@example.com' }] } },
        'message.to[0].email',
      );
    });

    it('a subject longer than 255 characters', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'S'.repeat(256), body: 'x', to: TO } }, 'message.subject');
    });

    it('a huge subject (10,000 characters)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'x'.repeat(10_000), body: 'x', to: TO } }, 'message.subject');
    });

    it('an unknown attachment id (the reference\'s, never uploaded here)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { ...REFERENCE_CREATE_BODY.message, attachment_ids: ['s3-d2a3111e-26d9-4e1c-88b4-cf7c0649d81d'] } },
        'message.attachment_ids',
      );
    });

    it('more than 50 email recipients', async () => {
      const ticketId = await createTicket();
      const to = Array.from({ length: 51 }, (_, i) => ({ email: `person${i}@example.com` }));
      await refusedCreate(ticketId, { message: { subject: 'Crowd', body: 'x', to } }, 'message.to');
    });

    it('reports every bad field of one request at once (subject, body, external ids)', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Bad\r\nsubject', body: '  ', to: TO }, external_ids: { k: 1 } },
        'message.subject',
      );
      detailsOf(body, 'message.body');
      detailsOf(body, 'external_ids.k');
    });
  });

  describe('request bodies: malformed, mistyped, odd', () => {
    it('malformed JSON is a 400 InvalidJSON on Create, and writes nothing', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({
        method: 'POST',
        url: scPath(ticketId),
        payload: '{"message": {"subject": "x", "body": "y", "to": [{"email": "someone@example.com"}]',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json<ErrorBody>();
      assert.equal(body.error, 'InvalidJSON');
      assert.equal(typeof body.description, 'string');
      assert.deepEqual(await counts(), before);
    });

    it('malformed JSON is a 400 InvalidJSON on Update, and changes nothing', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Unchanged');
      const res = await t.request({
        method: 'PUT',
        url: scPath(ticketId, sc.id),
        payload: "{'side_conversation': {'state': 'closed'}}",
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      const shown = await showSc(ticketId, sc.id);
      assert.equal(shown.side_conversation.state, 'open');
      assert.equal(shown.side_conversation.subject, 'Unchanged');
    });

    it('a body sent as text/plain is a 400 InvalidJSON (API notes: wrong content type)', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({
        method: 'POST',
        url: scPath(ticketId),
        payload: JSON.stringify(REFERENCE_CREATE_BODY),
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      assert.deepEqual(await counts(), before);
    });

    it('an empty JSON body is a 422 naming `message`, not a 400', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({ method: 'POST', url: scPath(ticketId), payload: '', headers: { 'content-type': 'application/json' } });
      assertInvalid(res, 'message');
      assert.deepEqual(await counts(), before);
    });

    it('GET with Content-Type: application/json and no body works (what real clients send)', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const res = await get(scPath(ticketId, sc.id), undefined, { 'content-type': 'application/json' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<ShowBody>().side_conversation.id, sc.id);
      const list = await get(scPath(ticketId), undefined, { 'content-type': 'application/json' });
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.json<ListBody>().count, 1);
    });

    it('a body over the size limit is a 413 PayloadTooLarge, and writes nothing', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await post(ticketId, { message: { ...REFERENCE_CREATE_BODY.message, body: 'x'.repeat(1_100_000) } });
      assert.equal(res.statusCode, 413, res.body.slice(0, 300));
      const body = res.json<ErrorBody>();
      assert.equal(body.error, 'PayloadTooLarge');
      assert.equal(typeof body.description, 'string');
      assert.deepEqual(await counts(), before);
    });

    it('prototype-poisoning keys (__proto__, constructor.prototype) are refused with 400 InvalidJSON, and nothing leaks', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      for (const payload of [
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}]},"external_ids":{"__proto__":{"polluted":"yes"}}}',
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}],"__proto__":{"polluted":"yes"}}}',
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}]},"constructor":{"prototype":{"polluted":"yes"}}}',
      ]) {
        const res = await t.request({ method: 'POST', url: scPath(ticketId), payload, headers: { 'content-type': 'application/json' } });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      }
      assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined);
      assert.deepEqual(await counts(), before);
    });

    it('credentials are checked before the body is read: no credentials + malformed JSON is a 401', async () => {
      const ticketId = await createTicket();
      const res = await t.request({ method: 'POST', url: scPath(ticketId), payload: '{not json', headers: { 'content-type': 'application/json' }, auth: null });
      assertUnauthorized(res);
      const forbidden = await t.request({ method: 'POST', url: scPath(ticketId), payload: '{not json', headers: { 'content-type': 'application/json' }, auth: endUser.auth });
      assertForbidden(forbidden);
    });

    const WRONG_TYPES: Array<{ name: string; payload: unknown; field: string }> = [
      { name: 'to is a string', payload: { message: { subject: 's', body: 'b', to: 'x' } }, field: 'message.to' },
      { name: 'message is a number', payload: { message: 5 }, field: 'message' },
      { name: 'message is null', payload: { message: null }, field: 'message' },
      { name: 'the body is a JSON array', payload: [REFERENCE_CREATE_BODY], field: 'base' },
      { name: 'subject is a number', payload: { message: { subject: 5, body: 'b', to: [{ email: 'a@example.com' }] } }, field: 'message.subject' },
      { name: 'body is an object', payload: { message: { subject: 's', body: { text: 'b' }, to: [{ email: 'a@example.com' }] } }, field: 'message.body' },
      { name: 'a participant is null', payload: { message: { subject: 's', body: 'b', to: [null] } }, field: 'message.to[0]' },
      { name: 'a participant is a string', payload: { message: { subject: 's', body: 'b', to: ['someone@example.com'] } }, field: 'message.to[0]' },
      { name: 'user_id is a string', payload: { message: { subject: 's', body: 'b', to: [{ user_id: 'abc' }] } }, field: 'message.to[0].user_id' },
      { name: 'email is a number', payload: { message: { subject: 's', body: 'b', to: [{ email: 42 }] } }, field: 'message.to[0].email' },
      { name: 'attachment_ids is a string', payload: { message: { subject: 's', body: 'b', to: [{ email: 'a@example.com' }], attachment_ids: 'abc' } }, field: 'message.attachment_ids' },
      { name: 'from is a string', payload: { message: { subject: 's', body: 'b', to: [{ email: 'a@example.com' }], from: 'me' } }, field: 'message.from' },
    ];
    for (const c of WRONG_TYPES) {
      it(`wrong type in the Create body is a 422, not a 500: ${c.name}`, async () => {
        const ticketId = await createTicket();
        await refusedCreate(ticketId, c.payload, c.field);
      });
    }

    it('a NUL character in the body is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'NUL', body: 'before\u0000after', to: [{ email: 'someone@example.com' }] } }, 'message.body');
    });

    it('a NUL character in an external id value is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'NUL', body: 'x', to: [{ email: 'someone@example.com' }] }, external_ids: { k: 'a\u0000b' } },
        'external_ids.k',
        'external_ids',
      );
    });

    it('a lone UTF-16 surrogate in the subject is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'broken \ud800 subject', body: 'x', to: [{ email: 'someone@example.com' }] } }, 'message.subject');
    });

    it('a lone UTF-16 surrogate in a participant name is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Name', body: 'x', to: [{ email: 'someone@example.com', name: 'Bob \udfff' }] } },
        'message.to[0].name',
      );
    });

    it('a lone UTF-16 surrogate in an Update subject is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Fine subject');
      const before = await counts();
      const res = await put(ticketId, sc.id, { side_conversation: { subject: 'broken \udc00 subject' } });
      assertInvalid(res, 'subject', 'side_conversation.subject');
      assert.deepEqual(await counts(), before);
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.subject, 'Fine subject');
    });
  });
});
