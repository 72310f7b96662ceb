// What every repository function runs on: the pool, or a transaction its caller opened and passes in.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export type Executor = Kysely<Database> | Transaction<Database>;
