import type { Kysely } from 'kysely';
import { pageOf } from '../db/paging.js';
import type { Database } from '../db/types.js';
import { notFound, ValidationErrors } from '../errors.js';
import type { OffsetPage } from '../http/pagination.js';
import { bumpCredentialsVersion, findUser, findUserByEmail } from '../users/repo.js';
import { generateApiToken, hashApiToken } from './credentials.js';

export interface CreatedApiToken {
  id: number;
  userId: number;
  description: string | null;
  hint: string;
  createdAt: Date;
  /** The token itself: returned once, never stored. */
  token: string;
}

export function createApiTokensService({
  db,
  onCredentialsChanged = () => undefined,
}: {
  db: Kysely<Database>;
  /** Told after a change commits, so this process's credential cache forgets the user at once. */
  onCredentialsChanged?: (accountId: number, userId: number) => void;
}) {
  return {
    /** A token for an agent or admin, found by id or email. */
    async createToken(accountId: number, owner: { userId?: number; email?: string }, description: string | null): Promise<CreatedApiToken> {
      const user = owner.userId !== undefined ? await findUser(db, accountId, owner.userId) : owner.email ? await findUserByEmail(db, accountId, owner.email) : undefined;
      const errors = new ValidationErrors();
      if (!user) errors.add('user_id', 'User: not found', 'NotFound');
      else if (user.role === 'end-user') errors.add('user_id', 'User: API tokens are for agents and admins');
      errors.throwIfAny();
      const token = generateApiToken();
      const row = await db
        .insertInto('api_tokens')
        .values({ account_id: accountId, user_id: user!.id, description, token_hash: hashApiToken(token), token_hint: token.slice(-4) })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { id: row.id, userId: row.user_id, description: row.description, hint: row.token_hint, createdAt: row.created_at, token };
    },

    listTokens(accountId: number, page: OffsetPage) {
      const base = db.selectFrom('api_tokens').where('account_id', '=', accountId);
      return pageOf(
        base.selectAll().orderBy('id').offset(page.offset).limit(page.perPage).execute(),
        base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
      );
    },

    /** Revoking a token also drops every cached credential of its user (credentials_version moves). */
    async revokeToken(accountId: number, id: number): Promise<void> {
      const userId = await db.transaction().execute(async (trx) => {
        const row = await trx.deleteFrom('api_tokens').where('account_id', '=', accountId).where('id', '=', id).returning(['user_id']).executeTakeFirst();
        if (!row) throw notFound();
        await bumpCredentialsVersion(trx, accountId, row.user_id);
        return row.user_id;
      });
      onCredentialsChanged(accountId, userId);
    },
  };
}

export type ApiTokensService = ReturnType<typeof createApiTokensService>;
