import type { Kysely } from 'kysely';
import type { Database } from './types.js';

/** A database handle or an open transaction: repos take either, services decide which. */
export type Executor = Kysely<Database>;
