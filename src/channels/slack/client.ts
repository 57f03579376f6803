import { WebClient, LogLevel, type FetchFunction } from '@slack/web-api';
import { guardedRequest } from '../../net/guarded-request.js';

export interface SlackClientOptions {
  /**
   * Send every call through the outbound guard (checked URL, private answers refused at connect
   * time, answers read up to a cap) instead of the global fetch: for calls made on an agent's
   * behalf, such as listing a workspace's channels.
   */
  guard?: { allowPrivate: boolean; timeoutMs: number; maxResponseBytes: number };
}

/** A fetch for the Slack SDK over guardedRequest: JSON and form bodies only (no uploads). */
function guardedFetch(guard: NonNullable<SlackClientOptions['guard']>): FetchFunction {
  return async (url, init = {}) => {
    if (init.body !== undefined && typeof init.body !== 'string') throw new Error('the guarded Slack client sends no multipart bodies');
    const answer = await guardedRequest(String(url), {
      method: init.method ?? 'GET',
      headers: init.headers ?? {},
      ...(init.body === undefined ? {} : { body: init.body }),
      allowPrivate: guard.allowPrivate,
      timeoutMs: guard.timeoutMs,
      maxResponseBytes: guard.maxResponseBytes,
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
    }
    return new Response(answer.status === 204 || answer.status === 304 ? null : answer.body, { status: answer.status, headers });
  };
}

/**
 * The official Slack SDK, pointed at SLACK_API_URL (tests use a loopback fake of Slack's Web API).
 * Its own retries are off: the relay owns retries, and a `ratelimited` answer comes back to it
 * with Slack's Retry-After so the row waits exactly that long.
 */
export function slackClient(token: string, apiUrl: string, options: SlackClientOptions = {}): WebClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.guard?.timeoutMs ?? 30_000,
    logLevel: LogLevel.ERROR,
    ...(options.guard ? { fetch: guardedFetch(options.guard) } : {}),
  });
}

/** Slack's mrkdwn treats &, < and > as markup. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
