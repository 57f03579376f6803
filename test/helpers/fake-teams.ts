import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { listenLoopback, readBody } from './loopback-http.js';

/**
 * A loopback fake of what a Teams bot talks to: the OAuth token endpoint (client credentials),
 * the Bot Framework Connector (start a conversation in a channel, reply to an activity), and the
 * OpenID metadata + JWKS that Bot Framework tokens are checked against. The JWKS holds the public
 * keys the test hands in, so the test signs its own tokens.
 */

export const TOKEN_PATH = '/botframework.com/oauth2/v2.0/token';
export const OPENID_PATH = '/.well-known/openidconfiguration';
export const JWKS_PATH = '/.well-known/keys';
/** The connector lives under /teams/, as https://smba.trafficmanager.net/teams/ does. */
export const SERVICE_PATH = '/teams';

export interface TokenRequest {
  contentType: string;
  params: Record<string, string>;
}

export interface ConnectorCall {
  /** `start` for POST /v3/conversations, `reply` for POST /v3/conversations/{id}/activities/{activityId}. */
  kind: 'start' | 'reply';
  path: string;
  /** For replies: the conversation id and activity id of the path, decoded. */
  conversationId?: string;
  activityId?: string;
  authorization: string | null;
  body: Record<string, unknown>;
  status: number;
  response: Record<string, unknown>;
}

export type ConnectorFailure = { status: number; retryAfter?: number };

export interface FakeTeams {
  url: string;
  tokenUrl: string;
  openIdMetadataUrl: string;
  /** What a bot is connected with as service_url (trailing slash, as Teams sends it). */
  serviceUrl: string;
  tokenRequests: TokenRequest[];
  /** Access tokens the token endpoint handed out. */
  issuedTokens: string[];
  connectorCalls: ConnectorCall[];
  /** How often the OpenID metadata and the JWKS were fetched. */
  metadataFetches: number;
  jwksFetches: number;
  /** The next `times` connector calls answer `status` (with Retry-After when given). */
  failConnector(failure: ConnectorFailure, times?: number): void;
  /** Every access token handed out so far stops working (the connector answers 401 to it). */
  revokeTokens(): void;
  close(): Promise<void>;
}

export async function startFakeTeams(options: { keys: JWK[]; issuer?: string }): Promise<FakeTeams> {
  const tokenRequests: TokenRequest[] = [];
  const issuedTokens: string[] = [];
  const revoked = new Set<string>();
  const connectorCalls: ConnectorCall[] = [];
  const failures: ConnectorFailure[] = [];
  let activityCounter = 1_700_000_000_000;
  let replyCounter = 1_700_000_100_000;
  let url = '';
  const state = { metadataFetches: 0, jwksFetches: 0 };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };

    if (req.method === 'GET' && rawPath === OPENID_PATH) {
      state.metadataFetches += 1;
      send(200, {
        issuer: options.issuer ?? 'https://api.botframework.com',
        authorization_endpoint: 'https://invalid.botframework.com',
        jwks_uri: `${url}${JWKS_PATH}`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      });
      return;
    }
    if (req.method === 'GET' && rawPath === JWKS_PATH) {
      state.jwksFetches += 1;
      send(200, { keys: options.keys.map((k) => ({ use: 'sig', ...k })) });
      return;
    }
    if (req.method === 'POST' && rawPath === TOKEN_PATH) {
      const contentType = String(req.headers['content-type'] ?? '');
      const params = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
      tokenRequests.push({ contentType, params });
      if (params['grant_type'] !== 'client_credentials' || !params['client_id'] || !params['client_secret']) {
        send(400, { error: 'invalid_request' });
        return;
      }
      const token = `fake-access-${randomBytes(6).toString('hex')}`;
      issuedTokens.push(token);
      send(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      return;
    }

    const start = req.method === 'POST' && rawPath === `${SERVICE_PATH}/v3/conversations`;
    const reply = req.method === 'POST' ? new RegExp(`^${SERVICE_PATH}/v3/conversations/([^/]+)/activities/([^/]+)$`).exec(rawPath) : null;
    if (!start && !reply) {
      send(404, { error: { code: 'NotFound', message: `no route ${req.method} ${rawPath}` } });
      return;
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      send(400, { error: { code: 'BadSyntax', message: 'invalid JSON' } });
      return;
    }
    const authorization = req.headers.authorization ? String(req.headers.authorization) : null;
    const call: ConnectorCall = {
      kind: start ? 'start' : 'reply',
      path: rawPath,
      ...(reply ? { conversationId: decodeURIComponent(reply[1]!), activityId: decodeURIComponent(reply[2]!) } : {}),
      authorization,
      body,
      status: 0,
      response: {},
    };
    const finish = (status: number, response: Record<string, unknown>, headers: Record<string, string> = {}) => {
      call.status = status;
      call.response = response;
      connectorCalls.push(call);
      send(status, response, headers);
    };
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token || !issuedTokens.includes(token) || revoked.has(token)) {
      finish(401, { message: 'Authorization has been denied for this request.' });
      return;
    }
    const failure = failures.shift();
    if (failure) {
      finish(
        failure.status,
        { error: { code: failure.status === 429 ? 'Throttled' : 'ServiceError', message: `HTTP ${failure.status}` } },
        failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
      );
      return;
    }
    if (start) {
      const channel = (body['channelData'] as { channel?: { id?: string } } | undefined)?.channel?.id;
      if (!channel) {
        finish(400, { error: { code: 'BadArgument', message: 'channelData.channel.id is required' } });
        return;
      }
      activityCounter += 1;
      const activityId = String(activityCounter);
      finish(201, { id: `${channel};messageid=${activityId}`, activityId });
      return;
    }
    replyCounter += 1;
    finish(201, { id: String(replyCounter) });
  }

  const loopback = await listenLoopback(handle);
  url = loopback.url;

  return {
    url,
    tokenUrl: `${url}${TOKEN_PATH}`,
    openIdMetadataUrl: `${url}${OPENID_PATH}`,
    serviceUrl: `${url}${SERVICE_PATH}/`,
    tokenRequests,
    issuedTokens,
    connectorCalls,
    get metadataFetches() {
      return state.metadataFetches;
    },
    get jwksFetches() {
      return state.jwksFetches;
    },
    failConnector(failure, times = 1) {
      for (let i = 0; i < times; i++) failures.push(failure);
    },
    revokeTokens() {
      for (const token of issuedTokens) revoked.add(token);
    },
    close: loopback.close,
  };
}
