// The cleanup audit repository against a migrated Postgres: rows as written, newest first, paged; the apply lock.
import { expect } from 'chai';
import { listCleanupAudit, recordCleanupAction, withCleanupApplyLock } from '@staticreg/db';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

describe('cleanup audit repository', function () {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  it('records actions and lists them newest first, paged by id', async () => {
    const plannedAt = new Date('2026-11-02T10:00:00Z');
    const common = { actor: 'admin', plannedAt, rule: 'stale', action: 'delete' as const };
    const digest = (n: number) => `sha256:${String(n).repeat(64)}`;
    const first = await recordCleanupAction(database.db, { ...common, repository: 'team/a', digest: digest(1), tags: ['1.0', 'old'], result: 'deleted' });
    await recordCleanupAction(database.db, { ...common, repository: 'team/a', digest: digest(2), tags: [], result: 'skipped', detail: 'used since the plan' });
    await database.db.transaction().execute((trx) =>
      recordCleanupAction(trx, { ...common, repository: 'team/b', digest: digest(3), tags: ['x'], result: 'refused', detail: '405 UNSUPPORTED' }),
    );

    expect(first).to.include({ actor: 'admin', repository: 'team/a', rule: 'stale', result: 'deleted', detail: '' });
    expect(first.tags).to.deep.equal(['1.0', 'old']);
    expect(first.plannedAt.toISOString()).to.equal(plannedAt.toISOString());

    const all = await listCleanupAudit(database.db);
    expect(all.map((row) => [row.repository, row.digest, row.result, row.detail, row.tags])).to.deep.equal([
      ['team/b', digest(3), 'refused', '405 UNSUPPORTED', ['x']],
      ['team/a', digest(2), 'skipped', 'used since the plan', []],
      ['team/a', digest(1), 'deleted', '', ['1.0', 'old']],
    ]);
    const page = await listCleanupAudit(database.db, { limit: 1, beforeId: all[0]!.id });
    expect(page.map((row) => row.digest)).to.deep.equal([digest(2)]);
  });

  it('lets one apply hold the lock at a time, and frees it when the apply ends', async () => {
    let release!: () => void;
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const first = withCleanupApplyLock(database.db, async (connection) => {
      holding();
      await new Promise<void>((resolve) => (release = resolve));
      return (await listCleanupAudit(connection, { limit: 1 })).length;
    });
    await held;
    expect(await withCleanupApplyLock(database.db, async () => 'second')).to.deep.equal({ ran: false });
    release();
    expect(await first).to.deep.equal({ ran: true, value: 1 });
    expect(await withCleanupApplyLock(database.db, async () => 'third')).to.deep.equal({ ran: true, value: 'third' });
  });
});
