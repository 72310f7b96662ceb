// The crawl-pass lease: one browse replica runs the crawl passes; the others serve pages and follow notifications.
import { sql, type Kysely } from 'kysely';
import type { Database } from '@staticreg/db';

/** Takes or renews the lease for `owner`: true when it may run passes for the next `leaseMs`. */
export async function holdPassLease(db: Kysely<Database>, owner: string, leaseMs: number): Promise<boolean> {
  const result = await db
    .updateTable('registry_catalog_state')
    // The database's clock, not this replica's: every replica compares leases against the same one.
    .set({ pass_owner: owner, pass_lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` })
    .where('id', '=', 1)
    .where((eb) => eb.or([eb('pass_lease_until', 'is', null), eb('pass_lease_until', '<', sql<Date>`now()`), eb('pass_owner', '=', owner)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives the lease up (at shutdown) so another replica takes over at once. */
export async function releasePassLease(db: Kysely<Database>, owner: string): Promise<void> {
  await db.updateTable('registry_catalog_state').set({ pass_lease_until: null }).where('id', '=', 1).where('pass_owner', '=', owner).execute();
}
