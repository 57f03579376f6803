import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { cursorLink, cursorResult } from '../http/cursor-pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { webhookExamples as ex } from './examples.js';
import { presentAttempt, presentInvocation, presentWebhook } from './presenter.js';
import {
  AttemptList,
  InvocationList,
  InvocationListQuery,
  InvocationParams,
  PatchWebhookBody,
  SigningSecretEnvelope,
  TestWebhookBody,
  TestWebhookQuery,
  TestWebhookResponse,
  WebhookEnvelope,
  WebhookList,
  WebhookListQuery,
  WebhookParams,
  WriteWebhookBody,
} from './schemas.js';
import { SIGNING_ALGORITHM } from './signing.js';
import type { WebhooksService } from './service.js';

const tags = ['Webhooks'];
const NoContent = { 204: Type.Null({ description: 'Saved' }) };

/** Zendesk's Webhooks API (admins only: agents and end users get 403, like Zendesk). */
export const webhooksRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; webhooks: WebhooksService }> = async (app, { ctx, webhooks }) => {
  const config = { access: 'admin' as const };

  app.post(
    '/api/v2/webhooks',
    {
      config,
      schema: {
        tags,
        summary: 'Create a webhook subscribed to side conversation events',
        body: withExamples(WriteWebhookBody, ex.createBody),
        response: { 201: withExamples(WebhookEnvelope, ex.showResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => reply.code(201).send({ webhook: presentWebhook(await webhooks.create(principalOf(request), request.body.webhook)) }),
  );

  app.get(
    '/api/v2/webhooks',
    {
      config,
      schema: { tags, summary: 'List webhooks (cursor pagination)', querystring: WebhookListQuery, response: { 200: withExamples(WebhookList, ex.listResponse), ...ErrorResponses } },
    },
    async (request) => {
      const { page, rows } = await webhooks.list(principalOf(request).accountId, request.query);
      const result = cursorResult(page, rows, (w) => w.id, cursorLink(ctx.baseUrl(request), '/api/v2/webhooks', request.query, page.size));
      return { webhooks: result.rows.map(presentWebhook), meta: result.meta, links: result.links };
    },
  );

  app.post(
    '/api/v2/webhooks/test',
    {
      config,
      schema: {
        tags,
        summary: 'Send a test request and return the answer',
        description: 'With ?webhook_id, to the saved webhook, signed with its secret; otherwise to request.endpoint, signed with the static test secret dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==. Nothing is recorded.',
        querystring: TestWebhookQuery,
        body: withExamples(TestWebhookBody, ex.testBody),
        response: { 200: withExamples(TestWebhookResponse, ex.testResponse), ...ErrorResponses },
      },
    },
    async (request) => ({ response: await webhooks.test(principalOf(request).accountId, request.query.webhook_id, request.body.request ?? {}) }),
  );

  app.get(
    '/api/v2/webhooks/:webhook_id',
    { config, schema: { tags, summary: 'Show a webhook', params: WebhookParams, response: { 200: withExamples(WebhookEnvelope, ex.showResponse), ...ErrorResponses } } },
    async (request) => ({ webhook: presentWebhook(await webhooks.show(principalOf(request).accountId, request.params.webhook_id)) }),
  );

  app.put(
    '/api/v2/webhooks/:webhook_id',
    {
      config,
      schema: {
        tags,
        summary: 'Update a webhook (the whole webhook; credentials sent back without their secret are kept)',
        params: WebhookParams,
        body: withExamples(WriteWebhookBody, ex.updateBody),
        response: { ...NoContent, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await webhooks.replace(principalOf(request), request.params.webhook_id, request.body.webhook);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/api/v2/webhooks/:webhook_id',
    {
      config,
      schema: {
        tags,
        summary: 'Patch a webhook (JSON merge patch: null removes a field or a custom header)',
        params: WebhookParams,
        body: withExamples(PatchWebhookBody, ex.patchBody),
        response: { ...NoContent, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await webhooks.patch(principalOf(request), request.params.webhook_id, request.body.webhook);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/v2/webhooks/:webhook_id',
    { config, schema: { tags, summary: 'Delete a webhook (queued requests to it are dropped)', params: WebhookParams, response: { ...NoContent, ...ErrorResponses } } },
    async (request, reply) => {
      await webhooks.remove(principalOf(request).accountId, request.params.webhook_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v2/webhooks/:webhook_id/signing_secret',
    {
      config,
      schema: { tags, summary: 'Show the signing secret', params: WebhookParams, response: { 200: withExamples(SigningSecretEnvelope, ex.signingSecretResponse), ...ErrorResponses } },
    },
    async (request) => ({ signing_secret: { algorithm: SIGNING_ALGORITHM, secret: await webhooks.signingSecret(principalOf(request).accountId, request.params.webhook_id) } }),
  );

  app.post(
    '/api/v2/webhooks/:webhook_id/signing_secret',
    {
      config,
      schema: { tags, summary: 'Reset the signing secret', params: WebhookParams, response: { 201: withExamples(SigningSecretEnvelope, ex.signingSecretResponse), ...ErrorResponses } },
    },
    async (request, reply) =>
      reply.code(201).send({ signing_secret: { algorithm: SIGNING_ALGORITHM, secret: await webhooks.resetSigningSecret(principalOf(request), request.params.webhook_id) } }),
  );

  app.get(
    '/api/v2/webhooks/:webhook_id/invocations',
    {
      config,
      schema: {
        tags,
        summary: 'List invocations, newest first (cursor pagination)',
        params: WebhookParams,
        querystring: InvocationListQuery,
        response: { 200: withExamples(InvocationList, ex.invocationsResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const { page, rows, keyOf } = await webhooks.invocations(principalOf(request).accountId, request.params.webhook_id, request.query);
      const path = `/api/v2/webhooks/${request.params.webhook_id}/invocations`;
      const result = cursorResult(page, rows, keyOf, cursorLink(ctx.baseUrl(request), path, request.query, page.size));
      return { invocations: result.rows.map(presentInvocation), meta: result.meta, links: result.links };
    },
  );

  app.get(
    '/api/v2/webhooks/:webhook_id/invocations/:invocation_id/attempts',
    {
      config,
      schema: {
        tags,
        summary: 'List the attempts of an invocation, oldest first',
        params: InvocationParams,
        response: { 200: withExamples(AttemptList, ex.attemptsResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const { invocation, attempts } = await webhooks.attempts(principalOf(request).accountId, request.params.webhook_id, request.params.invocation_id);
      return { attempts: attempts.map((a) => presentAttempt(a, invocation)) };
    },
  );
};
