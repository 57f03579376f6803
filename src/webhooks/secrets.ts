import type { Executor } from '../db/executor.js';
import { SecretBox } from '../integrations/secret-box.js';

/** What a sealed value starts with: which key sealed it. */
const ENV = 'env:';
const INSTALL = 'install:';

export class WebhookSecretUnavailable extends Error {}

/**
 * Seals webhook secrets (signing secrets, basic/bearer/api_key credentials) at rest.
 *
 * With SIDELINE_ENCRYPTION_KEY they are sealed with it, as the Slack and Teams secrets are: a copy
 * of the database alone does not give them away. Without it, webhooks still work (unlike Slack and
 * Teams, whose 422 would leave an admin with no way to sign their own requests): they are sealed
 * with a key made by migration 0009 and kept in `install_secrets`. That protects them in logs,
 * exports and a leak of single tables, not against a copy of the whole database; the README says
 * so and recommends the key. Each value says which key sealed it, so values sealed before the key
 * was configured keep opening afterwards, and new ones use the configured key.
 */
export class WebhookSecrets {
  readonly #db: Executor;
  readonly #env: SecretBox | null;
  #install: Promise<SecretBox> | null = null;

  constructor(db: Executor, env: SecretBox | null) {
    this.#db = db;
    this.#env = env;
  }

  #installBox(): Promise<SecretBox> {
    this.#install ??= this.#db
      .selectFrom('install_secrets')
      .select('secret')
      .where('name', '=', 'webhook_secrets')
      .executeTakeFirstOrThrow()
      .then((row) => new SecretBox(Buffer.from(row.secret, 'hex')));
    this.#install.catch(() => (this.#install = null));
    return this.#install;
  }

  async seal(plaintext: string): Promise<string> {
    if (this.#env) return ENV + this.#env.seal(plaintext);
    return INSTALL + (await this.#installBox()).seal(plaintext);
  }

  async open(sealed: string): Promise<string> {
    if (sealed.startsWith(ENV)) {
      if (!this.#env) throw new WebhookSecretUnavailable('this webhook secret was sealed with SIDELINE_ENCRYPTION_KEY, which is not configured now');
      return this.#env.open(sealed.slice(ENV.length));
    }
    if (sealed.startsWith(INSTALL)) return (await this.#installBox()).open(sealed.slice(INSTALL.length));
    throw new WebhookSecretUnavailable('not a sealed webhook secret');
  }
}
