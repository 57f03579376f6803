import { WebClient, LogLevel } from '@slack/web-api';

/**
 * The official Slack SDK, pointed at SLACK_API_URL (tests use a loopback fake of Slack's Web API).
 * Its own retries are off: the relay owns retries, and a `ratelimited` answer comes back to it
 * with Slack's Retry-After so the row waits exactly that long.
 */
export function slackClient(token: string, apiUrl: string): WebClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 30_000,
    logLevel: LogLevel.ERROR,
  });
}

/** Slack's mrkdwn treats &, < and > as markup. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
