import { guardedRequest } from '../../net/guarded-request.js';

/**
 * The Bot Framework Connector REST API: an OAuth client-credentials token, then
 * `POST {serviceUrl}/v3/conversations` to start a thread in a channel and
 * `POST …/v3/conversations/{id}/activities/{activityId}` to reply into it. The token URL is the
 * operator's configuration (plain fetch); the service URL is set through the API, so requests to
 * it (which carry the bearer token) go through the outbound guard.
 */
export interface TeamsEndpoints {
  /** https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token in production. */
  tokenUrl: string;
  scope: string;
  /** OUTBOUND_ALLOW_PRIVATE: let the service URL be a private or loopback address (default false). */
  allowPrivate?: boolean;
}

export class ConnectorError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class TeamsConnector {
  readonly #tokens = new Map<string, CachedToken>();

  constructor(private readonly endpoints: TeamsEndpoints) {}

  async #token(appId: string, appPassword: string, refresh = false): Promise<string> {
    const cached = this.#tokens.get(appId);
    if (!refresh && cached && cached.expiresAt > Date.now() + 60_000) return cached.token;
    const response = await fetch(this.endpoints.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: appId, client_secret: appPassword, scope: this.endpoints.scope }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new ConnectorError(response.status >= 500 ? 503 : 401, `token request refused: HTTP ${response.status}`);
    const body = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new ConnectorError(401, 'token response without access_token');
    this.#tokens.set(appId, { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 });
    return body.access_token;
  }

  async #post<T>(url: string, payload: unknown, appId: string, appPassword: string): Promise<T> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.#token(appId, appPassword, attempt > 0);
      const response = await guardedRequest(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        allowPrivate: this.endpoints.allowPrivate ?? false,
        timeoutMs: 30_000,
      });
      if (response.status === 401 && attempt === 0) continue; // the token may have been revoked: fetch a new one once
      if (response.status < 200 || response.status > 299) {
        const retryAfter = Number(response.headers['retry-after']);
        throw new ConnectorError(response.status, `connector answered HTTP ${response.status}`, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
      }
      return JSON.parse(response.body.toString('utf8')) as T;
    }
    throw new ConnectorError(401, 'connector refused the bot token');
  }

  startThread(bot: { serviceUrl: string; appId: string; appPassword: string; tenantId: string }, channelId: string, text: string) {
    return this.#post<{ id: string; activityId?: string }>(
      `${bot.serviceUrl}/v3/conversations`,
      {
        isGroup: true,
        channelData: { channel: { id: channelId }, tenant: { id: bot.tenantId } },
        activity: { type: 'message', text, textFormat: 'markdown' },
      },
      bot.appId,
      bot.appPassword,
    );
  }

  reply(bot: { serviceUrl: string; appId: string; appPassword: string }, conversationId: string, replyToId: string, text: string) {
    return this.#post<{ id: string }>(
      `${bot.serviceUrl}/v3/conversations/${encodeURIComponent(conversationId)}/activities/${encodeURIComponent(replyToId)}`,
      { type: 'message', text, textFormat: 'markdown', replyToId },
      bot.appId,
      bot.appPassword,
    );
  }
}
