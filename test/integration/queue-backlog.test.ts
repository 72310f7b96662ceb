// The pull queue's uncounted backlog as cleanup apply reads it: waiting jobs and those waiting to retry (real Redis).
import { expect } from 'chai';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { oldestUncountedJobTime, oldestWaitingJobTime, type PullJobData } from '@staticreg/queue';
import { freshRedis } from '../support/services.js';

describe('the pull queue backlog cleanup apply reads (real Redis)', () => {
  let redis: Redis;
  let queue: Queue<PullJobData>;
  beforeEach(async () => {
    redis = await freshRedis();
    queue = new Queue<PullJobData>('queue-backlog-test', { connection: redis });
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    redis.disconnect();
  });

  it('is empty when nothing is queued', async () => {
    expect(await oldestUncountedJobTime(queue)).to.equal(undefined);
  });

  it('sees a pull waiting to retry (delayed) or prioritized, which the waiting list alone misses', async () => {
    const hourAgo = Date.now() - 3_600_000;
    await queue.add('pull', {} as PullJobData, { timestamp: hourAgo, delay: 600_000 });
    await queue.add('pull', {} as PullJobData, { timestamp: hourAgo + 1000, priority: 5 });
    await queue.add('pull', {} as PullJobData, { timestamp: Date.now() - 5_000 });
    expect(await queue.getJobCounts('delayed', 'prioritized', 'wait')).to.deep.equal({ delayed: 1, prioritized: 1, wait: 1 });
    expect(await oldestWaitingJobTime(queue)).to.be.greaterThan(hourAgo + 1000);
    expect(await oldestUncountedJobTime(queue)).to.equal(hourAgo);
  });

  it('sees the oldest waiting pull when nothing retries', async () => {
    const minuteAgo = Date.now() - 60_000;
    await queue.add('pull', {} as PullJobData, { timestamp: minuteAgo });
    await queue.add('pull', {} as PullJobData, { timestamp: minuteAgo + 10 });
    expect(await oldestUncountedJobTime(queue)).to.equal(minuteAgo);
  });
});
