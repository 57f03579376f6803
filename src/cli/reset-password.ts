import { parseArgs } from 'node:util';
import { RESET_PASSWORD_USAGE } from './usage.js';
import type { BootstrapResult } from '../accounts/accounts.js';
import { generatePassword } from '../auth/credentials.js';
import { ConfigError, type Config } from '../config.js';
import { replacePassword } from '../users/service.js';
import { findUserByEmail } from '../users/repo.js';
import { accountFor, openStoreForCommand } from './store.js';

/** `sideline reset-password`: the way back in for an operator who lost the admin's password. */
export async function resetPasswordCommand(args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({ args, options: { email: { type: 'string' }, password: { type: 'string' }, subdomain: { type: 'string' } } });
  if (!values.email) throw new ConfigError(`reset-password needs --email.\n\nUsage: sideline ${RESET_PASSWORD_USAGE}`);
  if (values.password !== undefined && (values.password.length < 8 || values.password.length > 1024)) {
    throw new ConfigError('--password must be between 8 and 1024 characters');
  }
  const store = await openStoreForCommand(config, 'reset-password');
  try {
    const account = await accountFor(store, values.subdomain);
    const user = await findUserByEmail(store.db, account.id, values.email);
    if (!user) throw new ConfigError(`No user has the email ${values.email} in the account "${account.subdomain}".`);
    if (!user.active) throw new ConfigError(`The user ${values.email} has been deleted; create a new one instead.`);
    const password = values.password ?? generatePassword();
    await replacePassword(store.db, account.id, user.id, password);
    const lines = [`The password of ${user.email} (${user.role}) in "${account.subdomain}" was reset; other sessions of this user are signed out.`];
    if (user.suspended) lines.push('Note: this user is suspended and cannot sign in until an admin unsuspends them.');
    if (values.password === undefined) lines.push(`New password (shown only now): ${password}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await store.close();
  }
}

/** At start: SIDELINE_ADMIN_PASSWORD is only used to create the first admin; say so when it was not. */
export function unappliedAdminPasswordWarning(config: Config, bootstrap: BootstrapResult): string | null {
  if (config.adminPassword === undefined || bootstrap.createdAdminEmail !== undefined) return null;
  return 'SIDELINE_ADMIN_PASSWORD is set but was not applied: the account already has an admin, and the variable only sets the first one. ' +
    'To change a password, run `sideline reset-password --email EMAIL` (it may then be unset).';
}
