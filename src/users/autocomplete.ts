import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.js';
import { pageOf } from '../db/paging.js';
import type { OffsetPage } from '../http/pagination.js';

/** `text` as a literal inside a LIKE pattern (its %, _ and \ match only themselves). */
function likeLiteral(text: string): string {
  return text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Zendesk's users/autocomplete: active users of the account whose name or email contains the text,
 * those whose name or email starts with it first, then by name.
 */
export function createUserAutocompleteService({ db }: { db: Kysely<Database> }) {
  return {
    autocomplete(accountId: number, text: string, page: OffsetPage) {
      const literal = likeLiteral(text.trim());
      const contains = `%${literal}%`;
      const prefix = `${literal}%`;
      const base = db
        .selectFrom('users')
        .where('account_id', '=', accountId)
        .where('active', '=', true)
        .where((eb) => eb.or([eb(eb.fn('lower', ['name']), 'like', contains), eb(eb.fn('lower', ['email']), 'like', contains)]));
      return pageOf(
        base
          .selectAll()
          .orderBy(sql`case when lower(name) like ${prefix} or lower(email) like ${prefix} then 0 else 1 end`)
          .orderBy(sql`lower(name)`)
          .orderBy('id')
          .offset(page.offset)
          .limit(page.perPage)
          .execute(),
        base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
      );
    },
  };
}

export type UserAutocompleteService = ReturnType<typeof createUserAutocompleteService>;
