// countPerSession and pruning against a real Postgres: recomputation merges late events, pruning never rewrites the past.
import { expect } from 'chai';
import { sql } from 'kysely';
import pg from 'pg';
import { createDb, pruneSessions } from '@staticreg/db';
import { countPerSession, countPerSessionIn } from '@staticreg/ingest';
import type { PullEvent } from '@staticreg/events';
import { createTestDatabase, eventually, type TestDatabase } from '../support/services.js';
import { captureStatements } from '../support/captured-statements.js';
import { digestOf, makePull } from '../support/pulls.js';

const INDEX = digestOf('index');
const CHILD = digestOf('child');

function request(id: string, at: string, method: 'GET' | 'HEAD', digest: string, tag = ''): PullEvent {
  return makePull(id, {
    timestamp: at,
    pullDate: at.slice(0, 10),
    method,
    digest,
    tag,
    mediaType: digest === INDEX ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
  });
}

async function counts(database: TestDatabase): Promise<string[]> {
  const rows = await sql<{ line: string }>`
    select 'pull ' || pull_date || ' ' || tag || ' ' || architecture || ' x' || pull_count as line from container_pull_metrics
    union all
    select 'check ' || pull_date || ' ' || tag || ' ' || architecture || ' x' || check_count from container_pull_checks
    order by 1`.execute(database.db);
  return rows.rows.map((row) => row.line);
}

describe('session store (real Postgres)', () => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => database.drop());

  it('turns a check into a pull when the rest of the session arrives in a later batch', async () => {
    await countPerSession(database.db, [request('h', '2026-11-27T10:00:00.000Z', 'HEAD', INDEX, '1.0')], 10_000);
    expect(await counts(database)).to.deep.equal(['check 2026-11-27 1.0 not-specified x1']);
    await countPerSession(
      database.db,
      [request('g1', '2026-11-27T10:00:00.020Z', 'GET', INDEX), request('g2', '2026-11-27T10:00:00.050Z', 'GET', CHILD)],
      10_000,
    );
    expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1']);
  });

  it('merges two sessions when the event that joins them arrives last', async () => {
    await countPerSession(
      database.db,
      [request('a', '2026-11-27T10:00:00Z', 'HEAD', INDEX, '1.0'), request('c', '2026-11-27T10:00:16Z', 'GET', CHILD)],
      10_000,
    );
    expect(await counts(database)).to.deep.equal(['check 2026-11-27 1.0 not-specified x1', 'pull 2026-11-27  amd64 x1']);
    await countPerSession(database.db, [request('b', '2026-11-27T10:00:08Z', 'GET', INDEX)], 10_000);
    expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1']);
    const sessions = await sql<{ n: number }>`select count(*)::int as n from pull_sessions`.execute(database.db);
    expect(sessions.rows[0]!.n).to.equal(1);
  });

  it('counts an event once when it comes again after its claim was pruned but its session event was kept', async () => {
    const pull = [request('p1', '2026-11-27T10:00:00.000Z', 'HEAD', INDEX, '1.0'), request('p2', '2026-11-27T10:00:00.020Z', 'GET', INDEX), request('p3', '2026-11-27T10:00:00.050Z', 'GET', CHILD)];
    await countPerSession(database.db, pull, 10_000);
    expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1']);
    // Claims are kept STATICREG_DEDUP_RETENTION_DAYS, session events STATICREG_SESSION_RETENTION_HOURS: either may go first.
    await sql`delete from processed_pull_events`.execute(database.db);
    await countPerSession(database.db, [pull[1]!, pull[2]!], 10_000);
    expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1']);
    const events = await sql<{ n: number }>`select count(*)::int as n from pull_session_events`.execute(database.db);
    expect(events.rows[0]!.n).to.equal(3);
  });

  it('never changes earlier counts when a polling client\'s old events are pruned', async () => {
    const poll: PullEvent[] = [request('g', '2026-11-27T23:59:50Z', 'GET', CHILD, '1.0')];
    for (let i = 1; i <= 10; i += 1) {
      poll.push(request(`h${i}`, new Date(Date.parse('2026-11-27T23:59:50Z') + i * 5_000).toISOString(), 'HEAD', CHILD, '1.0'));
    }
    await countPerSession(database.db, poll, 10_000);
    const before = await counts(database);
    expect(before).to.deep.equal(['check 2026-11-28 1.0 amd64 x1', 'pull 2026-11-27 1.0 amd64 x1']);

    // The cutoff falls inside the second session: pruning rounds it down to the hour, so that session stays whole.
    await pruneSessions(database.db, new Date('2026-11-28T00:00:12Z'));
    await countPerSession(database.db, [request('late', '2026-11-28T00:00:45Z', 'HEAD', CHILD, '1.0')], 10_000);
    expect(await counts(database)).to.deep.equal(before);
  });

  it('sees the sessions a concurrent batch committed while it waited for the client, even if the server defaults to repeatable read', async () => {
    const first = request('rr-a', '2026-11-27T10:00:00Z', 'HEAD', INDEX, '1.0');
    const second = request('rr-b', '2026-11-27T10:00:08Z', 'GET', INDEX);
    // What the two batches count one after the other, on a database of their own.
    const reference = await createTestDatabase();
    let expected: string[];
    try {
      await countPerSession(reference.db, [first], 10_000);
      await countPerSession(reference.db, [second], 10_000);
      expected = await counts(reference);
    } finally {
      await reference.drop();
    }

    await sql`alter database ${sql.id(database.name)} set default_transaction_isolation = 'repeatable read'`.execute(database.db);
    const repeatable = createDb({ url: database.url, applicationName: 'staticreg-test-rr', maxConnections: 2 });
    try {
      expect((await sql<{ transaction_isolation: string }>`show transaction_isolation`.execute(repeatable)).rows[0]!.transaction_isolation).to.equal('repeatable read');
      let releaseFirst!: () => void;
      const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstStored!: () => void;
      const firstReady = new Promise<void>((resolve) => (firstStored = resolve));
      // The first batch stores and keeps its transaction (and the client's lock) open ...
      const firstBatch = repeatable.transaction().setIsolationLevel('read committed').execute(async (trx) => {
        await countPerSessionIn(trx, [first], 10_000);
        firstStored();
        await firstHolds;
      });
      await firstReady;
      // ... while the second starts, takes its snapshot with its claim, and waits for that lock.
      const secondBatch = countPerSession(repeatable, [second], 10_000);
      await eventually(async () => {
        const waiting = await sql<{ n: number }>`
          select count(*)::int as n from pg_stat_activity
          where datname = ${database.name} and wait_event_type = 'Lock' and wait_event = 'advisory'`.execute(database.db);
        return waiting.rows[0]!.n === 1;
      }, 20_000, 'the second batch waiting for the client lock');
      releaseFirst();
      await firstBatch;
      await secondBatch;
      expect(await counts(database)).to.deep.equal(expected);
    } finally {
      await repeatable.destroy();
    }
  });

  describe('pruning', () => {
    // A pull counted at 09:00, before a cutoff at 10:00.
    const session = (): PullEvent[] => [
      request('s1', '2026-11-27T09:00:00.000Z', 'HEAD', INDEX, '1.0'),
      request('s2', '2026-11-27T09:00:00.020Z', 'GET', INDEX),
      request('s3', '2026-11-27T09:00:00.050Z', 'GET', CHILD),
    ];
    const CUTOFF = new Date('2026-11-27T10:00:00Z');

    /** Backends of this test's database waiting for a lock, by the start of their statement. */
    async function waitingForLocks(): Promise<string[]> {
      const rows = await sql<{ query: string }>`
        select query from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock' order by query`.execute(database.db);
      // Without the builder's identifier quotes, so the test names statements as they read.
      return rows.rows.map((row) => row.query.trim().replaceAll('"', '').slice(0, 40));
    }

    it('prunes a client and stores its late event one after the other, never interleaved', async () => {
      await countPerSession(database.db, session(), 10_000);
      expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1']);

      // A third connection holds the session's row, so the prune stops at it, part way through; the late event's
      // batch (same client, same session) comes while the prune waits there.
      const holder = new pg.Client({ connectionString: database.url });
      await holder.connect();
      try {
        await holder.query('begin');
        await holder.query('select 1 from pull_sessions for update');
        const pruned = pruneSessions(database.db, CUTOFF);
        await eventually(async () => (await waitingForLocks()).some((query) => query.startsWith('delete from pull_sessions')), 30_000, 'the prune to wait for the row');
        const late = countPerSession(database.db, [request('late', '2026-11-27T09:00:05.000Z', 'HEAD', INDEX, '1.0')], 10_000);
        await eventually(async () => (await waitingForLocks()).length === 2, 30_000, 'the late batch to wait as well');
        await holder.query('commit');
        await Promise.all([pruned, late]);
      } finally {
        await holder.end();
      }
      // As if the prune ran first, then the batch: the session is forgotten whole, and the late HEAD alone is a
      // check. (Interleaved, the batch saw the session without its events and took its pull back.)
      expect(await counts(database)).to.deep.equal(['check 2026-11-27 1.0 not-specified x1', 'pull 2026-11-27 1.0 amd64 x1']);
    });

    it('forgets sessions and their events before the cutoff, and keeps the rest', async () => {
      await countPerSession(database.db, session(), 10_000);
      await countPerSession(database.db, [request('after', '2026-11-27T10:00:00.000Z', 'GET', CHILD, '1.0')], 10_000);
      expect(await pruneSessions(database.db, CUTOFF, 1)).to.equal(4);
      const left = await sql<{ event_id: string }>`select event_id from pull_session_events`.execute(database.db);
      expect(left.rows.map((row) => row.event_id)).to.deep.equal(['after']);
      const sessions = await sql<{ started_at: Date }>`select started_at from pull_sessions`.execute(database.db);
      expect(sessions.rows.map((row) => row.started_at.toISOString())).to.deep.equal(['2026-11-27T10:00:00.000Z']);
      expect(await counts(database)).to.deep.equal(['pull 2026-11-27 1.0 amd64 x1', 'pull 2026-11-27 1.0 amd64 x1']);
    });

    it('finds and deletes what it prunes through indexes (migration 0008)', async () => {
      await countPerSession(database.db, session(), 10_000);
      // pruneSessions' own statements, captured, then planned with sequential scans priced out: on a table this
      // small the planner would read everything anyway, so this only asks whether an index can serve each one.
      const capture = await captureStatements(database.url);
      try {
        await pruneSessions(capture.db, CUTOFF);
        const expected: Array<[RegExp, string[]]> = [
          [/^select client_key/, ['idx_pull_session_events_event_time', 'idx_pull_sessions_ended_at']],
          [/^delete from pull_sessions /, ['pull_sessions_pkey']],
          [/^delete from pull_session_events /, ['idx_pull_session_events_client_time']],
        ];
        await capture.client.query('set enable_seqscan = off');
        for (const [pattern, indexes] of expected) {
          const statement = capture.statements.find((entry) => pattern.test(entry.sql.trim().replaceAll('"', '')));
          expect(statement, `${pattern} captured`).to.not.equal(undefined);
          const plan = await capture.explain(statement!);
          expect(plan, statement!.sql).to.not.include('Seq Scan');
          for (const index of indexes) expect(plan, statement!.sql).to.match(new RegExp(`Index (Only )?Scan on ${index}|Index (Only )?Scan using ${index}`));
        }
      } finally {
        await capture.close();
      }
    });
  });
});
