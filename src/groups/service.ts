import type { Kysely } from 'kysely';
import type { Database, Group, GroupMembership } from '../db/types.js';
import { notFound, ValidationErrors } from '../errors.js';
import { hasControlCharacters } from '../http/email.js';
import type { OffsetPage } from '../http/pagination.js';
import { findUser } from '../users/repo.js';
import { deleteMembership, findGroup, findMembership, insertGroup, insertMembership, listGroups, listMemberships } from './repo.js';
import type { CreateGroupBody, CreateMembershipBody } from './schemas.js';

export function createGroupsService({ db }: { db: Kysely<Database> }) {
  return {
    async createGroup(accountId: number, input: CreateGroupBody['group']): Promise<Group> {
      const name = input.name.trim();
      const errors = new ValidationErrors();
      if (!name || hasControlCharacters(name)) errors.add('name', 'Name: cannot be blank');
      errors.throwIfAny();
      return insertGroup(db, accountId, name, input.description ?? null);
    },

    listGroups(accountId: number, page: OffsetPage) {
      return listGroups(db, accountId, page.offset, page.perPage);
    },

    async createMembership(accountId: number, input: CreateMembershipBody['group_membership']): Promise<GroupMembership> {
      return db.transaction().execute(async (trx) => {
        const errors = new ValidationErrors();
        const [user, group] = [await findUser(trx, accountId, input.user_id), await findGroup(trx, accountId, input.group_id)];
        if (!user) errors.add('user_id', 'User: not found');
        else if (user.role === 'end-user') errors.add('user_id', 'User: must be an agent or an admin to join a group');
        if (!group) errors.add('group_id', 'Group: not found');
        if (user && group && (await findMembership(trx, accountId, user.id, group.id))) {
          errors.add('user_id', 'User: is already a member of this group', 'DuplicateValue');
        }
        errors.throwIfAny();
        return insertMembership(trx, accountId, input.user_id, input.group_id, input.default ?? false);
      });
    },

    listMemberships(accountId: number, page: OffsetPage, groupId?: number) {
      return listMemberships(db, accountId, page.offset, page.perPage, groupId);
    },

    /** Zendesk's Delete Membership: the agent leaves the group; tickets already in it stay there. */
    async deleteMembership(accountId: number, id: number): Promise<void> {
      if (!(await deleteMembership(db, accountId, id))) throw notFound();
    },
  };
}

export type GroupsService = ReturnType<typeof createGroupsService>;
