import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { AppContext } from './app-context.js';
import { AccountResolver } from './accounts/accounts.js';
import { accountsRoutes } from './accounts/routes.js';
import { createAccountsService } from './accounts/service.js';
import type { Reads } from './db/read-cache.js';
import type { Notifications } from './db/notifications.js';
import { EventHub } from './events/hub.js';
import { eventStreamRoutes } from './events/routes.js';
import { DEFAULT_STREAM_LIMITS, EventStreams, type StreamLimits } from './events/stream.js';
import { Authenticator, type AuthenticatorOptions } from './auth/authenticator.js';
import { createApiTokensService } from './auth/api-tokens.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { attachmentsRoutes } from './attachments/routes.js';
import { createAttachmentsService } from './attachments/service.js';
import type { BlobStore } from './attachments/storage.js';
import { apiTokensRoutes } from './auth/routes.js';
import { inboundEmailRoutes } from './channels/email/routes.js';
import { createIntegrationsService } from './integrations/service.js';
import { createIdempotencyService } from './idempotency/service.js';
import { integrationsRoutes } from './integrations/routes.js';
import type { SecretBox } from './integrations/secret-box.js';
import { slackEventsRoutes } from './channels/slack/routes.js';
import { teamsMessagesRoutes } from './channels/teams/routes.js';
import { TeamsTokenVerifier } from './channels/teams/receive.js';
import type { Database } from './db/types.js';
import { createGroupsService } from './groups/service.js';
import { groupsRoutes } from './groups/routes.js';
import { registerAuth, registerHostCheck } from './http/auth.js';
import { registerCors, type CorsPolicy } from './http/cors.js';
import { registerDocs } from './http/docs.js';
import { ConsoleSessions, type ConsoleSessionOptions } from './sessions/service.js';
import { sessionRoutes } from './sessions/routes.js';
import { consoleStaticRoutes } from './console/static.js';
import { consoleRoutes } from './console/routes.js';
import { createConsoleService } from './console/service.js';
import { createSlackChannels } from './console/slack-channels.js';
import { userAutocompleteRoutes } from './users/autocomplete-routes.js';
import { createUserAutocompleteService } from './users/autocomplete.js';
import { registerErrorHandling } from './http/errors.js';
import { registerJsonBodyParser } from './http/json-body.js';
import { capConnections, serverTimeoutOptions, type ConnectionLimits } from './http/connection-limits.js';
import { baseUrl } from './http/urls.js';
import { lazySerializers, registerValidators } from './http/validation.js';
import { opsRoutes } from './ops/routes.js';
import { registerMetrics, type MetricsEndpoint } from './ops/metrics-routes.js';
import { createSideConversationsService } from './side-conversations/service.js';
import type { Rendered } from './db/rendered-rows.js';
import { createSideConversationCommands } from './side-conversations/commands.js';
import { channelHooks } from './channels/hooks.js';
import { mirrorChildTicketUpdates } from './channels/child-ticket/sync.js';
import { sideConversationsRoutes } from './side-conversations/routes.js';
import { createTicketsService } from './tickets/service.js';
import { ticketsRoutes } from './tickets/routes.js';
import { createUsersService } from './users/service.js';
import { usersRoutes } from './users/routes.js';
import { webhooksRoutes } from './webhooks/routes.js';
import { importsRoutes } from './imports/routes.js';
import { WebhookSecrets } from './webhooks/secrets.js';
import { createWebhooksService } from './webhooks/service.js';

/**
 * Everything the app is built from. runtime.ts's appOptionsFor makes these from the configuration,
 * whose defaults they are (src/config.ts); nothing here falls back to a default of its own.
 */
export interface AppOptions {
  db: Kysely<Database>;
  /** The store's cache of hot reads (Store.reads). */
  reads: Reads;
  /** Show's and List's JSON of each conversation, kept by row version (a RenderedRows of this process). */
  rendered: Rendered;
  /** The store's connection for short hot reads (Store.hotReads). */
  hotReads: Kysely<Database>;
  /** The store's LISTEN (Store.notifications) for the live stream; null: the stream polls the store (every second). */
  notifications: Notifications | null;
  publicUrl: string | undefined;
  bodyLimitBytes: number;
  logger: FastifyServerOptions['logger'];
  trustProxy: boolean;
  /** Where attachment bytes are kept. */
  blobs: BlobStore;
  /** Largest attachment, in bytes. */
  attachmentMaxBytes: number;
  /** Attachment bytes one account may store; 0: no quota. */
  attachmentQuotaBytes: number;
  /** Inbound email by HTTP: the reply-address domain, the provider's shared secret, the size limit. */
  inbound: { domain: string; secret: string | undefined; maxBytes: number; trustedAuthservId: string | undefined };
  /** Seals integration secrets; null: Slack and Teams cannot be connected. */
  secretBox: SecretBox | null;
  /** OUTBOUND_ALLOW_PRIVATE: let URLs set through the API (Teams service_url) be private addresses. */
  outboundAllowPrivate: boolean;
  /** WEBHOOK_ALLOW_PRIVATE: webhook endpoints may be plain http and private or loopback addresses. */
  webhookAllowPrivate: boolean;
  /** Slack's Web API base (a loopback fake in tests). */
  slackApiUrl: string;
  /** Where Bot Framework tokens are checked against (loopback metadata and JWKS in tests). */
  teams: { openIdMetadataUrl: string; issuer: string };
  /** Side conversation creates + replies per account per 10 minutes; 0: unlimited. */
  rateLimitPer10Minutes: number;
  /** Deadlines and connection caps of the listening server. */
  connections: ConnectionLimits;
  /** CORS_ORIGINS; null: no CORS headers, preflights are unknown endpoints. */
  cors: CorsPolicy | null;
  /** The built agent console served at /agent/. */
  consoleDir: string;
  /** GET /metrics and the request metrics behind it; null: no /metrics (404). */
  metrics: MetricsEndpoint | null;
  /** SIDELINE_OPERATOR_TOKEN: enables POST /api/v2/sideline/accounts; unset, that endpoint is a 404. */
  operatorToken: string | undefined;
  /** The From address of accounts created through the operator API. */
  supportAddress: string;

  // Injection points no configuration sets: the tests' clocks and short waits, the benchmark's switches.
  /** The credential cache and login throttle (AuthenticatorOptions). */
  auth?: AuthenticatorOptions;
  /** How long a request waits for an earlier one with the same Idempotency-Key before a 409 (the service's own: 10 s). */
  idempotencyWaitMs?: number;
  /** The live stream: heartbeat, slow-consumer cut-off, how often it polls besides notifications. */
  stream?: Partial<StreamLimits> & { pollMs?: number };
  /** Agent console sessions: idle expiry, re-check interval, clock. */
  sessions?: ConsoleSessionOptions;
}

/**
 * Zendesk paths work with and without `.json`, and the reference's Show sample spells
 * `/side_conversation/` in the singular: both are folded onto one route before routing.
 * Download paths and the console's files (/agent/…) end in file names and are left alone.
 */
export function normaliseUrl(url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  if (path.includes('/download/') || path.startsWith('/agent/')) return url;
  const normalised = path
    .replace(/^(\/api\/v2\/tickets\/[^/]+)\/side_conversation(?=\/|\.json$|$)/, '$1/side_conversations')
    .replace(/\.json$/, '');
  return normalised + query;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...serverTimeoutOptions(options.connections),
    logger: options.logger,
    bodyLimit: options.bodyLimitBytes,
    trustProxy: options.trustProxy,
    rewriteUrl: (req) => normaliseUrl(req.url ?? '/'),
    requestIdHeader: 'x-request-id',
    schemaController: lazySerializers,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors raised before routing (a malformed URL, an overlong path parameter) get Zendesk bodies too.
    frameworkErrors: (error, _request, reply) => {
      const plain = reply as unknown as FastifyReply;
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return void plain.code(404).send({ error: 'RecordNotFound', description: 'Not found' });
      return void plain.code(400).send({ error: 'InvalidEndpoint', description: `The request URL could not be understood: ${error.message}` });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  capConnections(app.server, options.connections);

  const { db } = options;
  const throttle = options.auth?.throttle ?? new LoginThrottle();
  const authenticator = new Authenticator(db, { ...options.auth, throttle });
  const sessions = new ConsoleSessions(db, authenticator, options.sessions);
  const forgetUser = (accountId: number, userId: number) => {
    authenticator.forgetUser(accountId, userId);
    sessions.forgetUser(accountId, userId);
  };
  // The one write path of side conversations, with each channel's hooks registered on it.
  const commands = createSideConversationCommands({ rateLimitPer10Minutes: options.rateLimitPer10Minutes, hooks: channelHooks() });
  const ctx: AppContext = {
    db,
    baseUrl: (request) => baseUrl(request, options.publicUrl),
    services: {
      users: createUsersService({ db, throttle, onCredentialsChanged: forgetUser }),
      groups: createGroupsService({ db }),
      tickets: createTicketsService({ db, onUpdated: mirrorChildTicketUpdates(commands) }),
      sideConversations: createSideConversationsService({ db, commands, reads: options.reads, rendered: options.rendered, hotReads: options.hotReads }),
      apiTokens: createApiTokensService({ db, onCredentialsChanged: forgetUser }),
      attachments: createAttachmentsService({ db, blobs: options.blobs, quotaBytes: options.attachmentQuotaBytes }),
      integrations: createIntegrationsService({ db, box: options.secretBox, outboundAllowPrivate: options.outboundAllowPrivate }),
      idempotency: createIdempotencyService({ db, ...(options.idempotencyWaitMs === undefined ? {} : { waitMs: options.idempotencyWaitMs }) }),
    },
  };

  registerValidators(app);
  registerJsonBodyParser(app);
  registerErrorHandling(app);
  registerCors(app, options.cors);
  const accountResolver = new AccountResolver(db, { publicUrl: options.publicUrl });
  registerHostCheck(app);
  registerAuth(app, accountResolver, authenticator, sessions);
  if (options.metrics) registerMetrics(app, options.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Sideline',
        version: '0.1.0',
        description: "Side conversations for support teams, speaking Zendesk's REST API.",
      },
      components: {
        securitySchemes: {
          basicAuth: { type: 'http', scheme: 'basic' },
          bearerAuth: { type: 'http', scheme: 'bearer' },
          // The agent console's session (POST /api/v2/sideline/session); writes also need X-CSRF-Token.
          consoleSession: { type: 'apiKey', in: 'cookie', name: 'sideline_session' },
        },
      },
      security: [{ basicAuth: [] }, { bearerAuth: [] }, { consoleSession: [] }],
    },
  });

  const attachmentMaxBytes = options.attachmentMaxBytes;
  await app.register(multipart, {
    limits: { fileSize: attachmentMaxBytes, files: 10, fields: 10, parts: 20, fieldSize: 64 * 1024 },
    throwFileSizeLimit: true,
  });

  await app.register(opsRoutes, { ctx });
  await app.register(sessionRoutes, { sessions, accounts: accountResolver });
  await app.register(consoleStaticRoutes, { dir: options.consoleDir });
  await app.register(consoleRoutes, {
    ctx,
    console: createConsoleService({ db }),
    slackChannels: createSlackChannels({
      db,
      box: options.secretBox,
      apiUrl: options.slackApiUrl,
      allowPrivate: options.outboundAllowPrivate,
    }),
  });
  await app.register(userAutocompleteRoutes, { ctx, service: createUserAutocompleteService({ db }) });
  await app.register(attachmentsRoutes, { ctx, maxBytes: attachmentMaxBytes });
  await app.register(usersRoutes, { ctx });
  await app.register(apiTokensRoutes, { ctx });
  await app.register(groupsRoutes, { ctx });
  await app.register(ticketsRoutes, { ctx });
  await app.register(sideConversationsRoutes, { ctx });
  await app.register(importsRoutes, { ctx });
  await app.register(integrationsRoutes, { ctx });
  await app.register(webhooksRoutes, {
    ctx,
    webhooks: createWebhooksService({ db, secrets: new WebhookSecrets(db, options.secretBox), allowPrivate: options.webhookAllowPrivate }),
  });
  const streams = new EventStreams(
    new EventHub({ db, notifications: options.notifications, pollMs: options.stream?.pollMs ?? (options.notifications ? 5000 : 1000), onError: (error) => app.log.warn({ err: error }, 'event stream: store read failed') }),
    { ...DEFAULT_STREAM_LIMITS, ...options.stream },
  );
  // Open streams would hold the server open: end them before it closes (clients reconnect by cursor).
  app.addHook('preClose', async () => streams.close());
  app.decorate('eventStreams', streams);
  await app.register(eventStreamRoutes, { ctx, streams });
  await app.register(accountsRoutes, {
    ctx,
    accounts: createAccountsService({ db, supportAddress: options.supportAddress }),
    operatorToken: options.operatorToken,
    onCreated: () => accountResolver.invalidate(),
  });
  await app.register(slackEventsRoutes, {
    deps: { db, box: options.secretBox, apiUrl: options.slackApiUrl, commands },
  });
  await app.register(teamsMessagesRoutes, {
    db,
    commands,
    verifier: new TeamsTokenVerifier(options.teams),
  });
  await app.register(inboundEmailRoutes, {
    deps: {
      db,
      attachments: ctx.services.attachments,
      inboundDomain: options.inbound.domain,
      trustedAuthservId: options.inbound.trustedAuthservId,
      commands,
    },
    secret: options.inbound.secret,
    maxBytes: options.inbound.maxBytes,
  });

  registerDocs(app, () => app.swagger());

  app.get(
    '/api/v2/openapi',
    { config: { access: 'public' }, schema: { hide: true } },
    async () => app.swagger(),
  );

  return app;
}
