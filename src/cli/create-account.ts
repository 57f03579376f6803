import { parseArgs } from 'node:util';
import { CREATE_ACCOUNT_USAGE } from './usage.js';
import { createAccountsService } from '../accounts/service.js';
import { ConfigError, type Config } from '../config.js';
import { Invalid } from '../errors.js';
import { openStoreForCommand } from './store.js';

/** `sideline create-account`: a second (third…) help desk, reached at SUBDOMAIN.your-host. */
export async function createAccountCommand(args: string[], config: Config): Promise<void> {
  const { values } = parseArgs({ args, options: { subdomain: { type: 'string' }, 'admin-email': { type: 'string' }, name: { type: 'string' } } });
  if (!values.subdomain || !values['admin-email']) {
    throw new ConfigError(`create-account needs --subdomain and --admin-email.\n\nUsage: sideline ${CREATE_ACCOUNT_USAGE}`);
  }
  const store = await openStoreForCommand(config, 'create-account');
  try {
    const created = await createAccountsService({ db: store.db, supportAddress: config.supportAddress })
      .createAccount({ subdomain: values.subdomain, name: values.name, adminEmail: values['admin-email'] })
      .catch((error: unknown) => {
        // The same checks as the operator API; a person reads their messages, not the JSON.
        if (error instanceof Invalid) {
          throw new ConfigError(Object.values(error.details).flat().map((d) => d.description).join('\n'));
        }
        throw error;
      });
    // Printed once, on the terminal only (not through a logger).
    process.stdout.write(
      `Created the account "${created.account.subdomain}" (${created.account.name}). Its admin signs in with:\n` +
        `  email:    ${created.admin.email}\n  password: ${created.generatedPassword}\n` +
        `This password is not shown again. Requests reach the account at a Host starting with "${created.account.subdomain}."\n`,
    );
  } finally {
    await store.close();
  }
}
