import type { Kysely } from 'kysely';
import type { Principal } from '../auth/authenticator.js';
import type { Database, User } from '../db/types.js';
import { invalidField } from '../errors.js';
import type { UsersService } from '../users/service.js';
import { findUserByEmail } from '../users/repo.js';
import type { CreateOrUpdateUserBody } from './schemas.js';

/**
 * Zendesk's Create Or Update User: the user with this email is updated (200), or made (201).
 * Both roads are the users service's own, so its rules hold (an admin's last-admin rule, email
 * format, a deleted user cannot change).
 */
export async function createOrUpdateUser(
  db: Kysely<Database>,
  users: UsersService,
  actor: Principal,
  input: CreateOrUpdateUserBody['user'],
): Promise<{ user: User; created: boolean }> {
  const email = input.email.trim();
  const existing = email ? await findUserByEmail(db, actor.accountId, email) : undefined;
  if (existing) {
    const changes = { ...(input.name !== undefined ? { name: input.name } : {}), ...(input.role !== undefined ? { role: input.role } : {}) };
    return { user: await users.updateUser(actor, existing.id, changes), created: false };
  }
  if (!input.name?.trim()) throw invalidField('name', 'Name: cannot be blank', 'BlankValue');
  return { user: await users.createUser(actor.accountId, { name: input.name, email, ...(input.role ? { role: input.role } : {}) }), created: true };
}
