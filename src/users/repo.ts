import type { Executor } from '../db/executor.js';
import type { NewUser, User, UserUpdate } from '../db/types.js';
import { pageOf } from '../db/paging.js';

export function findUser(db: Executor, accountId: number, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export function findUserByEmail(db: Executor, accountId: number, email: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

/**
 * The users of an account with any of these ids or addresses (matched case-insensitively), as one
 * query not yet sent (a message's recipients); null when there is nothing to look for.
 */
export function usersByIdOrEmailQuery(db: Executor, accountId: number, ids: number[], emails: string[]) {
  const wantedIds = [...new Set(ids)];
  const wantedEmails = [...new Set(emails.map((e) => e.toLowerCase()))];
  if (wantedIds.length === 0 && wantedEmails.length === 0) return null;
  return db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where((eb) =>
      eb.or([
        ...(wantedIds.length > 0 ? [eb('id', 'in', wantedIds)] : []),
        ...(wantedEmails.length > 0 ? [eb(eb.fn('lower', ['email']), 'in', wantedEmails)] : []),
      ]),
    );
}

export function insertUser(db: Executor, user: NewUser): Promise<User> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

/** `roles`: only users of these roles (none or empty: every role). */
export async function listUsers(db: Executor, accountId: number, offset: number, limit: number, roles: Array<User['role']> = []) {
  let base = db.selectFrom('users').where('account_id', '=', accountId);
  if (roles.length) base = base.where('role', 'in', roles);
  return pageOf(
    base.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  );
}

export function bumpCredentialsVersion(db: Executor, accountId: number, userId: number) {
  return db
    .updateTable('users')
    .set((eb) => ({ credentials_version: eb('credentials_version', '+', 1), updated_at: new Date() }))
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .execute();
}

/** Changes a user's row; `revoke` also moves credentials_version, so every cached credential and session dies. */
export function updateUserRow(db: Executor, accountId: number, userId: number, changes: UserUpdate, revoke: boolean): Promise<User> {
  return db
    .updateTable('users')
    .set((eb) => ({ ...changes, updated_at: new Date(), ...(revoke ? { credentials_version: eb('credentials_version', '+', 1) } : {}) }))
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Active, unsuspended admins of an account other than `exceptUserId`. */
export async function countOtherSignInAdmins(db: Executor, accountId: number, exceptUserId: number): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('account_id', '=', accountId)
    .where('role', '=', 'admin')
    .where('active', '=', true)
    .where('suspended', '=', false)
    .where('id', '!=', exceptUserId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export function deleteApiTokensOf(db: Executor, accountId: number, userId: number) {
  return db.deleteFrom('api_tokens').where('account_id', '=', accountId).where('user_id', '=', userId).execute();
}
