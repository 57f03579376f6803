import { createHash, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Account, Database, User } from '../db/types.js';
import { generatePassword, hashPassword } from '../auth/credentials.js';
import { ValidationErrors } from '../errors.js';
import { isEmailAddress } from '../http/email.js';
import { insertUser } from '../users/repo.js';

/** One DNS label: what a Host's first label can be. */
const SUBDOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Labels that would make a host ambiguous with the default (bare address / localhost) routing. */
const RESERVED = new Set(['localhost', 'www']);

export interface NewAccountInput {
  subdomain: string;
  name?: string | undefined;
  adminEmail: string;
  /** Unset: one is generated and returned once. */
  adminPassword?: string | undefined;
}

export interface CreatedAccount {
  account: Account;
  admin: User;
  /** Set only when the password was generated: show it once, then forget it. */
  generatedPassword?: string;
}

/** Constant-time comparison of a presented secret with the configured one (hashes even out the lengths). */
export function secretMatches(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** New accounts, each with its first admin, for the operator (CLI or the operator API). */
export function createAccountsService({ db, supportAddress }: { db: Kysely<Database>; supportAddress: string }) {
  return {
    async createAccount(input: NewAccountInput): Promise<CreatedAccount> {
      const subdomain = input.subdomain.trim().toLowerCase();
      const adminEmail = input.adminEmail.trim();
      const name = (input.name ?? subdomain).trim();
      const errors = new ValidationErrors();
      if (!SUBDOMAIN.test(subdomain) || RESERVED.has(subdomain)) {
        errors.add('subdomain', 'Subdomain: must be one DNS label of letters, digits and hyphens (not localhost or www)');
      }
      if (!name || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name)) errors.add('name', 'Name: is invalid');
      if (!isEmailAddress(adminEmail)) errors.add('admin_email', `Email: ${adminEmail} is not properly formatted`);
      if (input.adminPassword !== undefined && (input.adminPassword.length < 8 || input.adminPassword.length > 1024)) {
        errors.add('admin_password', 'Password: must be between 8 and 1024 characters');
      }
      errors.throwIfAny();
      const password = input.adminPassword ?? generatePassword();
      const passwordHash = await hashPassword(password);
      return db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('accounts').select('id').where('subdomain', '=', subdomain).executeTakeFirst();
        if (existing) {
          errors.add('subdomain', 'Subdomain: has already been taken', 'DuplicateValue');
          errors.throwIfAny();
        }
        const account = await trx.insertInto('accounts').values({ subdomain, name, support_address: supportAddress }).returningAll().executeTakeFirstOrThrow();
        const admin = await insertUser(trx, { account_id: account.id, name: 'Administrator', email: adminEmail, role: 'admin', password_hash: passwordHash });
        return input.adminPassword === undefined ? { account, admin, generatedPassword: password } : { account, admin };
      });
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;
