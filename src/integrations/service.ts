import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Database, SlackWorkspace, TeamsBot } from '../db/types.js';
import { notFound, ValidationErrors } from '../errors.js';
import { hasControlCharacters } from '../http/email.js';
import { checkOutboundUrl, OutboundAddressRefused } from '../net/outbound-guard.js';
import type { SecretBox } from './secret-box.js';

export const SLACK_TEAM_ID = /^[A-Z0-9]{1,32}$/i;

export interface SlackWorkspaceInput {
  team_id: string;
  bot_token: string;
  signing_secret: string;
  name?: string | undefined;
}

export interface TeamsBotInput {
  app_id: string;
  app_password: string;
  tenant_id: string;
  service_url: string;
}

function requireBox(box: SecretBox | null): SecretBox {
  if (box) return box;
  const errors = new ValidationErrors();
  errors.add('base', 'Integrations need SIDELINE_ENCRYPTION_KEY (32 bytes, hex or base64) to store their secrets encrypted', 'EncryptionKeyMissing');
  errors.throwIfAny();
  throw new Error('unreachable');
}

function checkSecret(value: string, field: string, errors: ValidationErrors): void {
  if (!value.trim() || value.length > 1024 || hasControlCharacters(value)) errors.add(field, `${field}: must be a non-empty single-line string`);
}

/**
 * A workspace or bot connected elsewhere: say only that it is taken, never by whom (nor that an
 * account, rather than this one, holds it), the same words as any other duplicate value.
 */
const TAKEN = (field: string) => `${field}: has already been taken`;

/** Connected workspaces and bots. Secrets go in sealed and never come back out through the API. */
export function createIntegrationsService({ db, box, outboundAllowPrivate = false }: { db: Kysely<Database>; box: SecretBox | null; outboundAllowPrivate?: boolean }) {
  return {
    async connectSlack(accountId: number, input: SlackWorkspaceInput): Promise<SlackWorkspace> {
      const errors = new ValidationErrors();
      if (!SLACK_TEAM_ID.test(input.team_id)) errors.add('team_id', 'team_id: must be a Slack workspace id such as T123ABC');
      checkSecret(input.bot_token, 'bot_token', errors);
      checkSecret(input.signing_secret, 'signing_secret', errors);
      if (input.name !== undefined && (input.name.length > 255 || hasControlCharacters(input.name))) errors.add('name', 'name: is invalid');
      errors.throwIfAny();
      const sealed = requireBox(box);
      return db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('slack_workspaces').selectAll().where('team_id', '=', input.team_id).forUpdate().executeTakeFirst();
        if (existing && existing.account_id !== accountId) {
          errors.add('team_id', TAKEN('team_id'), 'DuplicateValue');
          errors.throwIfAny();
        }
        const values = {
          name: input.name ?? null,
          bot_token_enc: sealed.seal(input.bot_token),
          signing_secret_enc: sealed.seal(input.signing_secret),
        };
        if (existing) {
          return trx.updateTable('slack_workspaces').set(values).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
        }
        return trx
          .insertInto('slack_workspaces')
          .values({ account_id: accountId, team_id: input.team_id, bot_user_id: null, ...values })
          .returningAll()
          .executeTakeFirstOrThrow();
      });
    },

    listSlack(accountId: number): Promise<SlackWorkspace[]> {
      return listSlackWorkspaces(db, accountId);
    },

    async disconnectSlack(accountId: number, teamId: string): Promise<void> {
      if (!SLACK_TEAM_ID.test(teamId)) throw notFound();
      const result = await db.deleteFrom('slack_workspaces').where('account_id', '=', accountId).where('team_id', '=', teamId).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw notFound();
    },

    async connectTeams(accountId: number, input: TeamsBotInput): Promise<TeamsBot> {
      const errors = new ValidationErrors();
      checkSecret(input.app_id, 'app_id', errors);
      checkSecret(input.app_password, 'app_password', errors);
      checkSecret(input.tenant_id, 'tenant_id', errors);
      try {
        const url = new URL(input.service_url);
        if (url.protocol !== 'https:' && url.protocol !== 'http:') errors.add('service_url', 'service_url: must be an http(s) URL');
      } catch {
        errors.add('service_url', 'service_url: must be an absolute URL such as https://smba.trafficmanager.net/teams/');
      }
      errors.throwIfAny();
      // The relay POSTs there with a bearer token: no metadata service, no private network.
      try {
        await checkOutboundUrl(input.service_url, { allowPrivate: outboundAllowPrivate });
      } catch (error) {
        if (!(error instanceof OutboundAddressRefused)) throw error;
        errors.add('service_url', `service_url: ${error.message}`);
      }
      errors.throwIfAny();
      const sealed = requireBox(box);
      return db.transaction().execute(async (trx) => {
        const other = await trx.selectFrom('teams_bots').select(['account_id']).where('app_id', '=', input.app_id).executeTakeFirst();
        if (other && other.account_id !== accountId) {
          errors.add('app_id', TAKEN('app_id'), 'DuplicateValue');
          errors.throwIfAny();
        }
        const values = {
          app_id: input.app_id,
          app_password_enc: sealed.seal(input.app_password),
          tenant_id: input.tenant_id,
          service_url: input.service_url.replace(/\/+$/, ''),
        };
        const existing = await trx.selectFrom('teams_bots').select('id').where('account_id', '=', accountId).forUpdate().executeTakeFirst();
        if (existing) return trx.updateTable('teams_bots').set(values).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
        return trx.insertInto('teams_bots').values({ account_id: accountId, ...values }).returningAll().executeTakeFirstOrThrow();
      });
    },

    getTeams(accountId: number): Promise<TeamsBot | undefined> {
      return db.selectFrom('teams_bots').selectAll().where('account_id', '=', accountId).executeTakeFirst();
    },

    async disconnectTeams(accountId: number): Promise<void> {
      const result = await db.deleteFrom('teams_bots').where('account_id', '=', accountId).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw notFound();
    },
  };
}

export type IntegrationsService = ReturnType<typeof createIntegrationsService>;

/** The account's connected Slack workspaces, first connected first. */
export function listSlackWorkspaces(db: Executor, accountId: number): Promise<SlackWorkspace[]> {
  return db.selectFrom('slack_workspaces').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
}

/** For side conversation creation: is this workspace connected to the account? */
export function findSlackWorkspace(db: Executor, accountId: number, teamId: string): Promise<SlackWorkspace | undefined> {
  return db.selectFrom('slack_workspaces').selectAll().where('account_id', '=', accountId).where('team_id', '=', teamId).executeTakeFirst();
}

export function findTeamsBot(db: Executor, accountId: number): Promise<TeamsBot | undefined> {
  return db.selectFrom('teams_bots').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}
