/**
 * The channels of a connected Slack workspace, for the console's New side conversation form:
 * Slack's conversations.list with the workspace's bot token, through the outbound guard, every
 * page up to a cap, cached a minute per workspace (Slack allows that method about 20 calls a
 * minute per workspace; a team of agents opening the form must not use that up).
 */
import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from '@slack/web-api';
import type { Kysely } from 'kysely';
import { slackClient } from '../channels/slack/client.js';
import type { Database } from '../db/types.js';
import { DependencyFailed, notFound } from '../errors.js';
import { findSlackWorkspace, SLACK_TEAM_ID } from '../integrations/service.js';
import type { SecretBox } from '../integrations/secret-box.js';
import { OutboundAddressRefused } from '../net/outbound-guard.js';

export interface SlackChannel {
  id: string;
  name: string;
  is_private: boolean;
  /** Whether the bot is in the channel (it must be, to post there without chat:write.public). */
  is_member: boolean;
}

export interface SlackChannelList {
  channels: SlackChannel[];
  /** False when the workspace has more channels than one listing reads (the rest: type the id). */
  complete: boolean;
}

export interface SlackChannelsDeps {
  db: Kysely<Database>;
  box: SecretBox | null;
  apiUrl: string;
  allowPrivate: boolean;
  /** Per page of conversations.list (Slack's own maximum is 1000; it advises 200). */
  pageSize?: number;
  /** Pages read at most. */
  maxPages?: number;
  cacheMs?: number;
  now?: () => number;
}

/** Slack refused or could not be reached: 502, saying why in Slack's own words where there are some. */
export const slackUnavailable = (description: string, retryAfterSeconds?: number) =>
  new DependencyFailed('SlackUnavailable', description, retryAfterSeconds);

function reasonOf(error: unknown): DependencyFailed {
  if (error instanceof WebAPIRateLimitedError) return slackUnavailable('Slack is rate limiting channel listings for this workspace; try again shortly.', error.retryAfter);
  if (error instanceof WebAPIPlatformError) return slackUnavailable(`Slack refused to list the channels: ${String(error.data.error)}`);
  if (error instanceof WebAPIHTTPError) return slackUnavailable(`Slack answered HTTP ${error.statusCode} to the channel listing`);
  const cause = error instanceof WebAPIRequestError ? error.original : error;
  if (cause instanceof OutboundAddressRefused) return slackUnavailable(`Slack cannot be reached: ${cause.message}`);
  return slackUnavailable(`Slack cannot be reached: ${cause instanceof Error ? cause.message : String(cause)}`);
}

interface RawChannel {
  id?: string;
  name?: string;
  is_private?: boolean;
  is_member?: boolean;
  is_archived?: boolean;
}

export function createSlackChannels(deps: SlackChannelsDeps) {
  const pageSize = deps.pageSize ?? 200;
  const maxPages = deps.maxPages ?? 10;
  const cacheMs = deps.cacheMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { at: number; list: SlackChannelList }>();

  return {
    /** 404 when the workspace is not connected to the account; 502 when Slack does not answer with channels. */
    async list(accountId: number, teamId: string): Promise<SlackChannelList> {
      if (!SLACK_TEAM_ID.test(teamId)) throw notFound();
      const workspace = await findSlackWorkspace(deps.db, accountId, teamId);
      if (!workspace) throw notFound();
      // Keyed by the row too: a reconnected workspace (new token) is listed afresh.
      const key = `${accountId}:${workspace.id}:${workspace.bot_token_enc}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < cacheMs) return hit.list;
      if (!deps.box) throw slackUnavailable('Slack cannot be asked: SIDELINE_ENCRYPTION_KEY is not set, so the bot token cannot be opened.');
      const client = slackClient(deps.box.open(workspace.bot_token_enc), deps.apiUrl, {
        guard: { allowPrivate: deps.allowPrivate, timeoutMs: 10_000, maxResponseBytes: 8 * 1024 * 1024 },
      });
      const channels: SlackChannel[] = [];
      let cursor: string | undefined;
      let pages = 0;
      try {
        do {
          const page = await client.conversations.list({
            types: 'public_channel,private_channel',
            exclude_archived: true,
            limit: pageSize,
            ...(cursor ? { cursor } : {}),
          });
          for (const c of (page.channels ?? []) as RawChannel[]) {
            if (!c.id || c.is_archived) continue;
            channels.push({ id: c.id, name: c.name ?? c.id, is_private: c.is_private === true, is_member: c.is_member === true });
          }
          cursor = page.response_metadata?.next_cursor || undefined;
          pages += 1;
        } while (cursor && pages < maxPages);
      } catch (error) {
        throw reasonOf(error);
      }
      channels.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      const list = { channels, complete: cursor === undefined };
      cache.set(key, { at: now(), list });
      // A small cache: drop what is stale when it grows.
      if (cache.size > 1000) for (const [k, v] of cache) if (now() - v.at >= cacheMs) cache.delete(k);
      return list;
    },
  };
}

export type SlackChannels = ReturnType<typeof createSlackChannels>;
