import { sql, type Kysely } from 'kysely';
import type { Database, User, UserUpdate } from '../db/types.js';
import type { Principal } from '../auth/authenticator.js';
import { hashPassword, verifyPassword } from '../auth/credentials.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { Executor } from '../db/executor.js';
import { forbidden, invalidField, notFound, ValidationErrors } from '../errors.js';
import { hasControlCharacters, isEmailAddress } from '../http/email.js';
import type { OffsetPage } from '../http/pagination.js';
import type { CreateUserBody, UpdateUserBody } from './schemas.js';
import { countOtherSignInAdmins, deleteApiTokensOf, findUser, findUserByEmail, insertUser, listUsers, updateUserRow } from './repo.js';

/** Advisory lock space for "who are this account's admins" (the last-admin rule), per account. */
const ADMINS_LOCK = 7355609;

export interface UsersServiceDeps {
  db: Kysely<Database>;
  /** Password checks of Change Your Own Password go through the same throttle as sign-in. */
  throttle: LoginThrottle;
  /** Told after a change commits, so this process's credential cache forgets the user at once. */
  onCredentialsChanged?: (accountId: number, userId: number) => void;
}

/**
 * Replaces a user's password and moves credentials_version (every cached credential and session
 * of that user dies). Shared by the API and the operator's `reset-password`.
 */
export async function replacePassword(db: Kysely<Database>, accountId: number, userId: number, password: string): Promise<User> {
  const passwordHash = await hashPassword(password);
  return db.transaction().execute(async (trx) => {
    await changeableUser(trx, accountId, userId);
    return updateUserRow(trx, accountId, userId, { password_hash: passwordHash }, true);
  });
}

function duplicateEmail(email: string): never {
  const taken = new ValidationErrors();
  taken.add('email', `Email: ${email} is already being used by another user`, 'DuplicateValue');
  throw taken.toError();
}

/** The row of a user that may still change: unknown users are 404, deleted ones 422. */
async function changeableUser(db: Executor, accountId: number, id: number): Promise<User> {
  const user = await findUser(db, accountId, id);
  if (!user) throw notFound();
  if (!user.active) throw invalidField('base', 'User: has been deleted and cannot be changed');
  return user;
}

/**
 * The rules for changing people:
 * - admins change anyone in their account (name, email, role, suspended), set passwords, delete;
 * - agents change only themselves, and only their name (and their password, knowing the old one);
 * - end-users change only their own password;
 * - no change may leave an account without an active, unsuspended admin;
 * - a change of email, role, suspension, password or deletion moves credentials_version, which
 *   revokes every cached credential and console session of that user, in every process.
 */
export function createUsersService({ db, throttle, onCredentialsChanged = () => undefined }: UsersServiceDeps) {
  /** Serialises changes to an account's admins in one transaction, so two admins cannot demote each other at once. */
  async function lockAdmins(trx: Executor, accountId: number): Promise<void> {
    await sql`select pg_advisory_xact_lock(${ADMINS_LOCK}, ${accountId}::int)`.execute(trx);
  }

  async function refuseLastAdmin(trx: Executor, user: User, field: string, description: string): Promise<void> {
    if (user.role !== 'admin' || user.suspended) return;
    if ((await countOtherSignInAdmins(trx, user.account_id, user.id)) === 0) throw invalidField(field, description);
  }

  async function changePassword(accountId: number, userId: number, password: string): Promise<void> {
    await replacePassword(db, accountId, userId, password);
    onCredentialsChanged(accountId, userId);
  }

  return {
    async createUser(accountId: number, input: CreateUserBody['user']): Promise<User> {
      const errors = new ValidationErrors();
      const email = input.email.trim();
      const name = input.name.trim();
      if (!isEmailAddress(email)) errors.add('email', `Email: ${email} is not properly formatted`);
      if (!name || hasControlCharacters(name)) errors.add('name', 'Name: is invalid');
      errors.throwIfAny();
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
      return db.transaction().execute(async (trx) => {
        if (await findUserByEmail(trx, accountId, email)) duplicateEmail(email);
        return insertUser(trx, {
          account_id: accountId,
          name,
          email,
          role: input.role ?? 'end-user',
          password_hash: passwordHash,
        });
      });
    },

    async showUser(accountId: number, id: number): Promise<User> {
      const user = await findUser(db, accountId, id);
      if (!user) throw notFound();
      return user;
    },

    listUsers(accountId: number, page: OffsetPage, roles: Array<User['role']> = []) {
      return listUsers(db, accountId, page.offset, page.perPage, roles);
    },

    /** Zendesk's Update User (PUT /api/v2/users/{id}). */
    async updateUser(actor: Principal, id: number, input: UpdateUserBody['user']): Promise<User> {
      const accountId = actor.accountId;
      const errors = new ValidationErrors();
      const name = input.name?.trim();
      const email = input.email?.trim();
      if (name !== undefined && (!name || hasControlCharacters(name))) errors.add('name', 'Name: is invalid');
      if (email !== undefined && !isEmailAddress(email)) errors.add('email', `Email: ${email} is not properly formatted`);
      errors.throwIfAny();

      const result = await db.transaction().execute(async (trx) => {
        await lockAdmins(trx, accountId);
        const user = await changeableUser(trx, accountId, id);
        const changes: UserUpdate = {};
        if (name !== undefined && name !== user.name) changes.name = name;
        if (email !== undefined && email !== user.email) changes.email = email;
        if (input.role !== undefined && input.role !== user.role) changes.role = input.role;
        if (input.suspended !== undefined && input.suspended !== user.suspended) changes.suspended = input.suspended;

        if (actor.role !== 'admin') {
          // Agents may rename themselves; anything about access is for admins.
          if (user.id !== actor.userId) throw forbidden();
          if (changes.email !== undefined || changes.role !== undefined || changes.suspended !== undefined) throw forbidden();
        }
        if (changes.role !== undefined && changes.role !== 'admin') {
          await refuseLastAdmin(trx, user, 'role', "Role: cannot be changed: this user is the account's last admin");
        }
        if (changes.suspended === true) {
          await refuseLastAdmin(trx, user, 'suspended', "Suspended: the account's last admin cannot be suspended");
        }
        if (email !== undefined && changes.email !== undefined) {
          const holder = await findUserByEmail(trx, accountId, email);
          if (holder && holder.id !== user.id) duplicateEmail(email);
        }
        if (Object.keys(changes).length === 0) return { user, revoked: false };
        const revoked = changes.email !== undefined || changes.role !== undefined || changes.suspended !== undefined;
        return { user: await updateUserRow(trx, accountId, id, changes, revoked), revoked };
      });
      if (result.revoked) onCredentialsChanged(accountId, id);
      return result.user;
    },

    /** Zendesk's Delete User: the record stays (events name it) with active false; its tokens go. */
    async deleteUser(actor: Principal, id: number): Promise<User> {
      const accountId = actor.accountId;
      const result = await db.transaction().execute(async (trx) => {
        await lockAdmins(trx, accountId);
        const user = await findUser(trx, accountId, id);
        if (!user) throw notFound();
        if (!user.active) return { user, revoked: false };
        await refuseLastAdmin(trx, user, 'base', "User: the account's last admin cannot be deleted");
        await deleteApiTokensOf(trx, accountId, id);
        return { user: await updateUserRow(trx, accountId, id, { active: false }, true), revoked: true };
      });
      if (result.revoked) onCredentialsChanged(accountId, id);
      return result.user;
    },

    /** Zendesk's Set a User's Password (admins, POST /api/v2/users/{id}/password). */
    setPassword(actor: Principal, id: number, password: string): Promise<void> {
      return changePassword(actor.accountId, id, password);
    },

    /**
     * Zendesk's Change Your Own Password (PUT /api/v2/users/{id}/password): only one's own, and only
     * knowing the current one. That check is a password guess like any sign-in, so it is throttled.
     */
    async changeOwnPassword(actor: Principal, id: number, input: { password: string; previous_password: string }, clientAddress: string): Promise<void> {
      if (id !== actor.userId) throw forbidden();
      const user = await changeableUser(db, actor.accountId, id);
      const ok = await throttle.attempt({ accountId: actor.accountId, email: user.email ?? `#${user.id}`, clientAddress }, () =>
        verifyPassword(input.previous_password, user.password_hash),
      );
      if (!ok) throw invalidField('previous_password', 'Previous password: is incorrect');
      await changePassword(actor.accountId, id, input.password);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
