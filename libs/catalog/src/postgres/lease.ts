// The crawl-pass lease: one browse replica runs the crawl passes; the others serve pages and follow notifications.
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';

/** Takes or renews the lease for `owner`: true when it may run passes for the next `leaseMs`. */
export async function holdPassLease(db: Kysely<Database>, owner: string, leaseMs: number): Promise<boolean> {
  const result = await sql`
    update registry_catalog_state set pass_owner = ${owner}, pass_lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id = 1 and (pass_lease_until is null or pass_lease_until < now() or pass_owner = ${owner})`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}

/** Gives the lease up (at shutdown) so another replica takes over at once. */
export async function releasePassLease(db: Kysely<Database>, owner: string): Promise<void> {
  await sql`update registry_catalog_state set pass_lease_until = null where id = 1 and pass_owner = ${owner}`.execute(db);
}
