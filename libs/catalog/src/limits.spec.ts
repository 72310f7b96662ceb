import { expect } from 'chai';
import { forEachConcurrently, RateLimiter, Semaphore, type Clock } from './limits.js';

/** A clock that only moves when someone sleeps: sleeping records the wait and advances time. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

describe('crawler limits', () => {
  it('spaces requests 1/rate apart without a burst', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(4, clock);
    for (let i = 0; i < 4; i += 1) await limiter.take();
    expect(clock.sleeps).to.deep.equal([250, 250, 250]);
    expect(clock.now()).to.equal(750);
  });

  it('does not wait at rate 0', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(0, clock);
    for (let i = 0; i < 10; i += 1) await limiter.take();
    expect(clock.sleeps).to.deep.equal([]);
  });

  it('holds at most N in flight, and runs everything', async () => {
    const semaphore = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachConcurrently([1, 2, 3, 4, 5, 6], 6, (item) =>
      semaphore.use(async () => {
        active += 1;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setImmediate(resolve));
        active -= 1;
        done.push(item);
      }),
    );
    expect([peak, done.sort()]).to.deep.equal([2, [1, 2, 3, 4, 5, 6]]);
  });
});
