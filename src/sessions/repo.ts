import type { Executor } from '../db/executor.js';
import type { UserRole } from '../db/types.js';

export interface NewSessionRow {
  account_id: number;
  user_id: number;
  token_hash: string;
  csrf_token: string;
  credentials_version: number;
  last_seen_at: Date;
  expires_at: Date;
}

export async function insertSession(db: Executor, row: NewSessionRow): Promise<number> {
  const inserted = await db.insertInto('console_sessions').values(row).returning('id').executeTakeFirstOrThrow();
  return inserted.id;
}

export interface SessionWithUser {
  id: number;
  account_id: number;
  user_id: number;
  csrf_token: string;
  credentials_version: number;
  last_seen_at: Date;
  expires_at: Date;
  name: string;
  email: string | null;
  role: UserRole;
  active: boolean;
  user_credentials_version: number;
}

/** The session of a token with its user as they are now (one read). */
export function findSessionWithUser(db: Executor, tokenHash: string): Promise<SessionWithUser | undefined> {
  return db
    .selectFrom('console_sessions as s')
    .innerJoin('users as u', (join) => join.onRef('u.id', '=', 's.user_id').onRef('u.account_id', '=', 's.account_id'))
    .select([
      's.id',
      's.account_id',
      's.user_id',
      's.csrf_token',
      's.credentials_version',
      's.last_seen_at',
      's.expires_at',
      'u.name',
      'u.email',
      'u.role',
      'u.active',
      'u.credentials_version as user_credentials_version',
    ])
    .where('s.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function touchSession(db: Executor, id: number, lastSeenAt: Date, expiresAt: Date): Promise<void> {
  await db.updateTable('console_sessions').set({ last_seen_at: lastSeenAt, expires_at: expiresAt }).where('id', '=', id).execute();
}

export async function deleteSession(db: Executor, id: number): Promise<void> {
  await db.deleteFrom('console_sessions').where('id', '=', id).execute();
}

export async function deleteExpiredSessions(db: Executor, now: Date): Promise<void> {
  await db.deleteFrom('console_sessions').where('expires_at', '<=', now).execute();
}
