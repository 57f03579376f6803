/**
 * Side Conversations REST API — Scoping and access: 404 RecordNotFound across tickets and accounts, 401 and 403.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_EMAIL, basic, STORE_KIND } from '../helpers/app.js';
import type { ListBody, ShowBody, WriteBody } from '../helpers/api-types.js';
import { ACME, acme, acmeAgent, acmeGroup, addMember, adminActor, agent, AGENT_NAME, type ApiTokenBody, assertForbidden, assertInvalid, assertNotFound, assertUnauthorized, counts, createSc, createTicket, emailSc, endUser, get, group, item, listSc, post, put, REFERENCE_CREATE_BODY, refusedCreate, scPath, showSc, t, useSideConversationsApp } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('not found (404 RecordNotFound)', () => {
    it('an unknown ticket, on all four endpoints; a Create there writes nothing', async () => {
      const sc = await emailSc(await createTicket());
      const missing = 987654;
      assertNotFound(await get(scPath(missing)));
      assertNotFound(await get(scPath(missing, sc.id)));
      const before = await counts();
      assertNotFound(await post(missing, REFERENCE_CREATE_BODY));
      assertNotFound(await put(missing, sc.id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual(await counts(), before);
    });

    it('a ticket id that is not a positive integer', async () => {
      for (const ticketId of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
        assertNotFound(await get(scPath(ticketId)));
        const before = await counts();
        assertNotFound(await post(ticketId, REFERENCE_CREATE_BODY));
        assert.deepEqual(await counts(), before);
      }
    });

    it('an unknown side conversation id (a valid UUID)', async () => {
      const ticketId = await createTicket();
      const id = '00000000-0000-4000-8000-000000000000';
      assertNotFound(await get(scPath(ticketId, id)));
      assertNotFound(await get(`/api/v2/tickets/${ticketId}/side_conversation/${id}.json`));
      const before = await counts();
      assertNotFound(await put(ticketId, id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual(await counts(), before);
    });

    it('a side conversation asked for under another ticket; an Update there changes nothing', async () => {
      const ticketId = await createTicket();
      const otherTicket = await createTicket();
      const sc = await emailSc(ticketId, 'Belongs to the first');
      assertNotFound(await get(scPath(otherTicket, sc.id)));
      assertNotFound(await get(`${scPath(otherTicket, sc.id)}?include=events`));
      const before = await counts();
      assertNotFound(await put(otherTicket, sc.id, { side_conversation: { state: 'closed', subject: 'Hijacked' } }));
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
      assert.equal((await listSc(otherTicket)).count, 0);
    });

    it('a side conversation id that is not a UUID', async () => {
      const ticketId = await createTicket();
      await emailSc(ticketId);
      for (const id of ['not-a-uuid', '123', "1' or '1'='1", '8566255a-ece5-11e8-857d-493066fa7b1', '8566255a-ece5-11e8-857d-493066fa7b17x']) {
        const encoded = encodeURIComponent(id);
        assertNotFound(await get(scPath(ticketId, encoded)));
        const before = await counts();
        assertNotFound(await put(ticketId, encoded, { side_conversation: { state: 'closed' } }));
        assert.deepEqual(await counts(), before);
      }
    });

    it('a ticket and side conversation of another account (acme) are invisible both ways', async () => {
      const ticketId = await createTicket('Ours');
      const ours = await emailSc(ticketId, 'Our secret');
      const acmeTicket = await createTicket('Theirs', acme.admin.auth, ACME);
      const acmeCreate = await post(acmeTicket, { message: { subject: 'Acme secret', body: 'x', to: [{ email: 'bob@example.com' }] } }, acme.admin.auth, ACME);
      assert.equal(acmeCreate.statusCode, 201, acmeCreate.body);
      const theirs = acmeCreate.json<WriteBody>().side_conversation;
      assert.match(theirs.url, /^http:\/\/acme\.localhost(:\d+)?\/api\/v2\/tickets\//);
      assert.deepEqual(item(theirs.participants, 0), { user_id: acme.admin.id, name: 'acme admin', email: acme.admin.email });

      // Acme's admin on acme's host cannot see or change ours, even under a ticket id acme also has.
      assertNotFound(await get(scPath(ticketId, ours.id), acme.admin.auth, ACME));
      assertNotFound(await get(scPath(acmeTicket, ours.id), acme.admin.auth, ACME));
      const before = await counts();
      assertNotFound(await put(acmeTicket, ours.id, { side_conversation: { subject: 'Pwned' } }, acme.admin.auth, ACME));
      assertNotFound(await put(ticketId, ours.id, { side_conversation: { subject: 'Pwned' } }, acme.admin.auth, ACME));
      assert.deepEqual(await counts(), before);
      const acmeList = await get(scPath(acmeTicket), acme.admin.auth, ACME);
      assert.equal(acmeList.statusCode, 200, acmeList.body);
      assert.deepEqual(acmeList.json<ListBody>().side_conversations.map((s) => s.id), [theirs.id]);

      // And we cannot see theirs.
      assertNotFound(await get(scPath(acmeTicket, theirs.id)));
      assertNotFound(await get(scPath(ticketId, theirs.id)));
      assertNotFound(await put(acmeTicket, theirs.id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual((await showSc(ticketId, ours.id)).side_conversation, ours);
      const stillTheirs = await get(scPath(acmeTicket, theirs.id), acme.admin.auth, ACME);
      assert.equal(stillTheirs.json<ShowBody>().side_conversation.state, 'open');
    });

    it('users and groups of another account cannot be named as participants', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'x', body: 'x', to: [{ user_id: acmeAgent.id }] } }, 'message.to[0].user_id');
      await refusedCreate(ticketId, { message: { subject: 'x', body: 'x', to: [{ support_group_id: acmeGroup.id }] } }, 'message.to[0].support_group_id');
      await refusedCreate(
        ticketId,
        { message: { subject: 'x', body: 'x', to: [{ support_group_id: group.id, support_agent_id: acmeAgent.id }] } },
        'message.to[0].support_agent_id',
      );
      // An address that belongs to a user of another account is just an outside address here.
      const body = await createSc(ticketId, { subject: 'x', body: 'x', to: [{ email: acmeAgent.email }] });
      assert.deepEqual(item(body.side_conversation.participants, 1), { user_id: null, name: null, email: acmeAgent.email });
    });
  });

  describe('authentication and authorisation', () => {
    async function fourRequests(ticketId: number, scId: string, auth: string | null, headers?: Record<string, string>) {
      const opts = { auth, ...(headers ? { headers } : {}) };
      return [
        await t.request({ method: 'GET', url: scPath(ticketId), ...opts }),
        await t.request({ method: 'GET', url: scPath(ticketId, scId), ...opts }),
        await t.request({ method: 'POST', url: scPath(ticketId), payload: REFERENCE_CREATE_BODY, ...opts }),
        await t.request({ method: 'PUT', url: scPath(ticketId, scId), payload: { side_conversation: { state: 'closed', subject: 'Changed' } }, ...opts }),
      ];
    }

    it('401 without credentials on all four endpoints, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Untouched');
      const before = await counts();
      for (const res of await fourRequests(ticketId, sc.id, null)) {
        assertUnauthorized(res);
        assert.ok(res.headers['www-authenticate']);
      }
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('401 with wrong credentials of every kind, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Untouched');
      const before = await counts();
      const bad = [
        basic(ADMIN_EMAIL, 'wrong password'),
        basic('nobody@example.com', 'whatever'),
        basic(ADMIN_EMAIL, ''),
        basic(`${ADMIN_EMAIL}/token`, 'not-a-token'),
        basic(`${agent.email}/token`, agent.password),
        'Basic !!!not-base64!!!',
        'Basic',
        'Bearer not-a-token',
        'Digest username="admin"',
        basic(acme.admin.email, acme.admin.password), // right password, wrong account
      ];
      for (const auth of bad) {
        for (const res of await fourRequests(ticketId, sc.id, auth)) assertUnauthorized(res);
      }
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('credentials of our account do not work on acme\'s host', async () => {
      const acmeTicket = await createTicket('Acme', acme.admin.auth, ACME);
      assertUnauthorized(await get(scPath(acmeTicket), t.admin.auth, ACME));
      assertUnauthorized(await post(acmeTicket, REFERENCE_CREATE_BODY, agent.auth, ACME));
    });

    it('403 Forbidden for an end-user on all four endpoints, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Agents only');
      const before = await counts();
      for (const res of await fourRequests(ticketId, sc.id, endUser.auth)) assertForbidden(res);
      // Also for things that do not exist: the end-user learns nothing.
      assertForbidden(await get(scPath(987654), endUser.auth));
      assertForbidden(await get(scPath(ticketId, '00000000-0000-4000-8000-000000000000'), endUser.auth));
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('an agent (not an admin) can list, show, create and update; the agent is the actor and sender', async () => {
      const ticketId = await createTicket('Agent ticket');
      const agentActor = { user_id: agent.id, name: AGENT_NAME, email: agent.email };
      const created = await post(ticketId, REFERENCE_CREATE_BODY, agent.auth);
      assert.equal(created.statusCode, 201, created.body);
      const body = created.json<WriteBody>();
      assert.deepEqual(body.event?.actor, agentActor);
      assert.deepEqual(body.event?.message?.from, agentActor);
      assert.deepEqual(body.side_conversation.participants, [agentActor, { user_id: null, name: null, email: 'someone@example.com' }]);
      const id = body.side_conversation.id;

      const list = await get(scPath(ticketId), agent.auth);
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json<ListBody>().side_conversations.map((s) => s.id), [id]);
      const shown = await get(`${scPath(ticketId, id)}?include=events`, agent.auth);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.deepEqual(shown.json<ShowBody>().side_conversation, body.side_conversation);
      assert.equal(shown.json<ShowBody>().events?.length, 1);

      const updated = await put(ticketId, id, { side_conversation: { state: 'closed' } }, agent.auth);
      assert.equal(updated.statusCode, 200, updated.body);
      assert.deepEqual(updated.json<WriteBody>().updates, { state: 'closed' });
      assert.deepEqual(updated.json<WriteBody>().event?.actor, agentActor);
    });

    it('a deactivated agent is refused once the cached user is re-read (within a second), even right after a cached request', async () => {
      const ticketId = await createTicket();
      const leaver = await t.createUser('agent', 'Leaving Agent');
      await addMember(leaver.id, group.id);
      const ok = await get(scPath(ticketId), leaver.auth);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<ListBody>().count, 0);
      await t.db.updateTable('users').set({ active: false }).where('id', '=', leaver.id).execute();
      // Changed behind the server's back (SQL): a cached user row is trusted for up to a second.
      await new Promise((resolve) => setTimeout(resolve, 1_050));
      const before = await counts();
      assertUnauthorized(await get(scPath(ticketId), leaver.auth));
      assertUnauthorized(await post(ticketId, REFERENCE_CREATE_BODY, leaver.auth));
      assert.deepEqual(await counts(), before);
      // Nor can a deactivated agent (still a group member) be named as the assignee of a child ticket.
      await refusedCreate(
        ticketId,
        { message: { subject: 'x', body: 'x', to: [{ support_group_id: group.id, support_agent_id: leaver.id }] } },
        'message.to[0].support_agent_id',
      );
    });

    it('API token authentication (email/token:TOKEN) works, is bound to its user, and stops on revocation', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { description: 'side conversation tests' } } });
      assert.equal(created.statusCode, 201, created.body);
      const token = created.json<ApiTokenBody>().api_token;
      assert.ok(token.token);
      assert.equal(token.user_id, t.admin.id);
      const tokenAuth = basic(`${ADMIN_EMAIL}/token`, token.token);

      const ticketId = await createTicket('Token ticket', tokenAuth);
      const res = await post(ticketId, REFERENCE_CREATE_BODY, tokenAuth);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(body.event?.actor, adminActor);
      const id = body.side_conversation.id;
      const list = await get(scPath(ticketId), tokenAuth);
      assert.equal(list.statusCode, 200);
      assert.equal(list.json<ListBody>().count, 1);
      const shown = await get(scPath(ticketId, id), tokenAuth);
      assert.equal(shown.json<ShowBody>().side_conversation.id, id);
      const updated = await put(ticketId, id, { side_conversation: { subject: 'Via token' } }, tokenAuth);
      assert.equal(updated.statusCode, 200, updated.body);
      assert.deepEqual(updated.json<WriteBody>().updates, { subject: 'Via token' });

      // The token is the admin's: it does not work with another user's email.
      assertUnauthorized(await get(scPath(ticketId), basic(`${agent.email}/token`, token.token)));

      // An agent's token acts as the agent.
      const agentToken = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { description: 'agent', user_id: agent.id } } });
      assert.equal(agentToken.statusCode, 201, agentToken.body);
      const agentTokenValue = agentToken.json<ApiTokenBody>().api_token.token;
      assert.ok(agentTokenValue);
      const byAgent = await post(ticketId, REFERENCE_CREATE_BODY, basic(`${agent.email}/token`, agentTokenValue));
      assert.equal(byAgent.statusCode, 201, byAgent.body);
      assert.deepEqual(byAgent.json<WriteBody>().event?.actor, { user_id: agent.id, name: AGENT_NAME, email: agent.email });

      // Revoked: refused at once.
      const revoked = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${token.id}` });
      assert.equal(revoked.statusCode, 204, revoked.body);
      const before = await counts();
      assertUnauthorized(await get(scPath(ticketId), tokenAuth));
      assertUnauthorized(await post(ticketId, REFERENCE_CREATE_BODY, tokenAuth));
      assert.deepEqual(await counts(), before);
    });

    it('`from` naming another user is a 422; naming yourself is fine; a display name alone cannot spoof the sender', async () => {
      const ticketId = await createTicket();
      const base = { subject: 'From', body: 'x', to: [{ email: 'someone@example.com' }] };
      for (const from of [{ user_id: agent.id }, { email: agent.email }, { user_id: t.admin.id, email: agent.email }, { email: 'ceo@example.com', name: 'The CEO' }]) {
        await refusedCreate(ticketId, { message: { ...base, from } }, 'message.from');
      }
      // An agent cannot send as the admin either.
      const before = await counts();
      const asAdmin = await post(ticketId, { message: { ...base, from: { user_id: t.admin.id } } }, agent.auth);
      assertInvalid(asAdmin, 'message.from');
      assert.deepEqual(await counts(), before);

      const self = await createSc(ticketId, { ...base, from: { user_id: t.admin.id, email: ADMIN_EMAIL.toUpperCase() } });
      assert.deepEqual(self.event?.message?.from, adminActor);
      const nameOnly = await post(ticketId, { message: { ...base, from: { name: 'The CEO' } } });
      if (nameOnly.statusCode === 201) {
        const body = nameOnly.json<WriteBody>();
        assert.deepEqual(body.event?.message?.from, adminActor, 'the sender stays the authenticated agent');
        assert.deepEqual(item(body.side_conversation.participants, 0), adminActor);
      } else {
        assertInvalid(nameOnly, 'message.from');
      }
    });
  });
});
