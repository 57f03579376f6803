import type { Kysely } from 'kysely';
import type { Database, User } from '../db/types.js';
import { hashPassword } from '../auth/credentials.js';
import { notFound, ValidationErrors } from '../http/errors.js';
import { hasControlCharacters, isEmailAddress } from '../http/email.js';
import type { OffsetPage } from '../http/pagination.js';
import type { CreateUserBody } from './schemas.js';
import { findUser, findUserByEmail, insertUser, listUsers } from './repo.js';

export function createUsersService({ db }: { db: Kysely<Database> }) {
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
        if (await findUserByEmail(trx, accountId, email)) {
          const taken = new ValidationErrors();
          taken.add('email', `Email: ${email} is already being used by another user`, 'DuplicateValue');
          taken.throwIfAny();
        }
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

    listUsers(accountId: number, page: OffsetPage, role?: string) {
      return listUsers(db, accountId, page.offset, page.perPage, role);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
