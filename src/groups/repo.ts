import type { Executor } from '../db/executor.js';
import type { Group, GroupMembership } from '../db/types.js';
import { pageOf } from '../db/paging.js';

export function findGroup(db: Executor, accountId: number, id: number): Promise<Group | undefined> {
  return db.selectFrom('groups').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export function insertGroup(db: Executor, accountId: number, name: string, description: string | null): Promise<Group> {
  return db.insertInto('groups').values({ account_id: accountId, name, description }).returningAll().executeTakeFirstOrThrow();
}

export async function listGroups(db: Executor, accountId: number, offset: number, limit: number) {
  const base = db.selectFrom('groups').where('account_id', '=', accountId);
  return pageOf(
    base.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  );
}

export function findMembership(db: Executor, accountId: number, userId: number, groupId: number): Promise<GroupMembership | undefined> {
  return db
    .selectFrom('group_memberships')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('group_id', '=', groupId)
    .executeTakeFirst();
}

export function insertMembership(db: Executor, accountId: number, userId: number, groupId: number, isDefault: boolean) {
  return db
    .insertInto('group_memberships')
    .values({ account_id: accountId, user_id: userId, group_id: groupId, default: isDefault })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listMemberships(db: Executor, accountId: number, offset: number, limit: number, groupId?: number) {
  let base = db.selectFrom('group_memberships').where('account_id', '=', accountId);
  if (groupId !== undefined) base = base.where('group_id', '=', groupId);
  return pageOf(
    base.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  );
}

/** Removes one membership of the account; false when there was none with that id. */
export async function deleteMembership(db: Executor, accountId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('group_memberships').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
