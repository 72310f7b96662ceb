import { expect } from 'chai';
import { Batcher } from './pull-batcher.js';

describe('Batcher', () => {
  it('flushes as soon as maxSize items are pending', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number>({ maxSize: 3, maxWaitMs: 60_000, flush: async (items) => void flushed.push(items) });
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.add(n)));
    expect(flushed).to.deep.equal([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('flushes a partial batch after maxWaitMs', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number>({ maxSize: 100, maxWaitMs: 20, flush: async (items) => void flushed.push(items) });
    await Promise.all([batcher.add(1), batcher.add(2)]);
    expect(flushed).to.deep.equal([[1, 2]]);
  });

  it('settles each caller only after its batch flushed, and never runs two flushes at once', async () => {
    const order: string[] = [];
    let running = 0;
    const batcher = new Batcher<number>({
      maxSize: 2,
      maxWaitMs: 60_000,
      flush: async (items) => {
        running += 1;
        expect(running).to.equal(1);
        order.push(`start ${items.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        order.push(`end ${items.join(',')}`);
        running -= 1;
      },
    });
    const done = [1, 2, 3, 4].map((n) => batcher.add(n).then(() => order.push(`settled ${n}`)));
    await Promise.all(done);
    expect(order).to.deep.equal(['start 1,2', 'end 1,2', 'settled 1', 'settled 2', 'start 3,4', 'end 3,4', 'settled 3', 'settled 4']);
  });

  it('runs up to maxFlushes flushes at once, starting batches in the order they were cut', async () => {
    const order: string[] = [];
    let running = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const batcher = new Batcher<number>({
      maxSize: 2,
      maxWaitMs: 60_000,
      maxFlushes: 2,
      flush: async (items) => {
        running += 1;
        most = Math.max(most, running);
        order.push(`start ${items.join(',')}`);
        await new Promise<void>((resolve) => gates.push(resolve));
        order.push(`end ${items.join(',')}`);
        running -= 1;
      },
    });
    const done = Promise.all([1, 2, 3, 4, 5, 6].map((n) => batcher.add(n)));
    await new Promise((resolve) => setImmediate(resolve));
    // Two batches flush, the third waits for a free flush.
    expect(order).to.deep.equal(['start 1,2', 'start 3,4']);
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).to.deep.equal(['start 1,2', 'start 3,4', 'end 1,2', 'start 5,6']);
    const drained = batcher.drain().then(() => order.push('drained'));
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order.at(-1)).to.equal('end 3,4');
    gates.shift()!();
    await Promise.all([done, drained]);
    expect(order.slice(-2)).to.deep.equal(['end 5,6', 'drained']);
    expect(most).to.equal(2);
  });

  it('with flushes in parallel, rejects the items of the flush that throws and resolves the other', async () => {
    const batcher = new Batcher<number>({
      maxSize: 2,
      maxWaitMs: 60_000,
      maxFlushes: 2,
      flush: async (items) => {
        await new Promise((resolve) => setTimeout(resolve, items.includes(1) ? 5 : 20));
        if (items.includes(1)) throw new Error('boom');
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => batcher.add(n)));
    expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    await batcher.drain();
  });

  it('drain also waits for a batch cut while it waits', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number>({
      maxSize: 10,
      maxWaitMs: 5,
      flush: async (items) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        flushed.push(items);
      },
    });
    void batcher.add(1);
    const drained = batcher.drain();
    void batcher.add(2);
    await drained;
    expect(flushed).to.deep.equal([[1], [2]]);
  });

  it('refuses a maxFlushes that is not a whole number of at least 1', () => {
    for (const maxFlushes of [0, 1.5, -1]) {
      expect(() => new Batcher<number>({ maxSize: 1, maxWaitMs: 1, maxFlushes, flush: async () => {} })).to.throw(RangeError, /maxFlushes/);
    }
  });

  it('rejects every item of a batch whose flush throws, and only those', async () => {
    const batcher = new Batcher<number>({
      maxSize: 2,
      maxWaitMs: 60_000,
      flush: async (items) => {
        if (items.includes(1)) throw new Error('boom');
      },
    });
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => batcher.add(n)));
    expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('rejects only the items a flush names as failed', async () => {
    const batcher = new Batcher<number>({
      maxSize: 3,
      maxWaitMs: 60_000,
      flush: async () => new Map([[1, new Error('item 2 is bad')]]),
    });
    const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.add(n)));
    expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('drain flushes what is pending at once', async () => {
    const flushed: number[][] = [];
    const batcher = new Batcher<number>({ maxSize: 100, maxWaitMs: 60_000, flush: async (items) => void flushed.push(items) });
    const added = batcher.add(7);
    await batcher.drain();
    await added;
    expect(flushed).to.deep.equal([[7]]);
    expect(batcher.size).to.equal(0);
  });
});
