import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/jobs';
import { gcra, RateDecision, RateRule } from './gcra';
import { RateLimiter } from './rate-limiter';

/** Against the real Redis when REDIS_URL is set (as CI runs), else the in-memory store the embedded default uses. */
const redisUrl = process.env.REDIS_URL;
const store = redisUrl ? 'Redis' : 'memory';

/** Time that moves only when told to, so the limiter and the reference compute with the same instant. */
class FixedClock extends Clock {
  at = Date.UTC(2026, 0, 1);
  override nowMs(): number {
    return this.at;
  }
}

describe(RateLimiter.name, () => {
  const prefix = `plinth-unit-rl-${process.pid}-${Date.now()}`;
  const config = { redis: { prefix } } as PlinthConfig;
  const rules = [{ key: 'p:1', limit: 2, windowMs: 60_000 }];
  const clients: Redis[] = [];
  let run = 0;

  /** A limiter on its own connection (as each api instance has), and a fixed clock. */
  function limiter(clock = new Clock()): RateLimiter {
    if (!redisUrl) return new RateLimiter(config, null, clock);
    const redis = new Redis(redisUrl);
    clients.push(redis);
    return new RateLimiter(config, redis, clock);
  }

  afterAll(async () => {
    if (clients.length) {
      const keys = await clients[0].keys(`${prefix}:*`);
      if (keys.length) await clients[0].del(...keys);
    }
    for (const c of clients) c.disconnect();
  });

  it(`limits (${store})`, async () => {
    const sut = limiter();
    const results = [await sut.hit(rules), await sut.hit(rules), await sut.hit(rules)];
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
  });

  it(`admits exactly the limit of a concurrent burst split over two limiters (${store}, ${redisUrl ? 'shared' : 'one process'})`, async () => {
    const a = limiter();
    const b = redisUrl ? limiter() : a;
    const burst = [{ key: `burst:${run++}`, limit: 10, windowMs: 60_000 }];
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).hit(burst)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0 && d.limit === 10 && d.remaining === 0)).toBe(true);
  });

  it(`decides every request exactly as one gcra call each, in order, however requests are grouped (${store})`, async () => {
    // Intervals are whole microseconds (limits dividing the window), so Redis's stored integers lose nothing.
    const ruleArb = fc.record({ key: fc.constantFrom('a', 'b', 'c'), limit: fc.constantFrom(1, 2, 4, 5), windowMs: fc.constantFrom(100, 1000, 3000) });
    const requestArb = fc.array(ruleArb, { minLength: 1, maxLength: 3 });
    // Groups of requests sent in the same turn of the event loop, each after a pause (ms).
    const groupsArb = fc.array(fc.record({ pause: fc.integer({ min: 0, max: 1500 }), requests: fc.array(requestArb, { minLength: 1, maxLength: 12 }) }), {
      minLength: 1,
      maxLength: 8,
    });
    const clock = new FixedClock();
    const sut = limiter(clock);
    await fc.assert(
      fc.asyncProperty(groupsArb, async (groups) => {
        const ns = `eq:${run++}:`;
        const expected = new Map<string, number>();
        let now = (clock.at += 10_000);
        for (const g of groups) {
          now = clock.at += g.pause;
          const batch: RateRule[][] = g.requests.map((rs) => rs.map((r) => ({ ...r, key: ns + r.key })));
          const got: RateDecision[] = await Promise.all(batch.map((rs) => sut.hit(rs)));
          const want = batch.map((rs) => gcra(expected, rs, now));
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 100 },
    );
  });

  it(redisUrl ? 'sends the requests of one event-loop turn as one Redis call' : 'decides at once in memory, without a round trip', async () => {
    const sut = limiter();
    await sut.hit(rules); // defines the script command on the connection
    if (!redisUrl) {
      expect(sut.local).toBe(true);
      expect(sut.hitLocal([{ key: `sync:${run++}`, limit: 1, windowMs: 1000 }]).allowed).toBe(true);
      return;
    }
    const redis = clients[clients.length - 1] as Redis & { plinthGcraBatch: (...a: unknown[]) => Promise<number[]> };
    const spy = jest.spyOn(redis, 'plinthGcraBatch');
    const key = `turn:${run++}`;
    const decisions = await Promise.all(Array.from({ length: 50 }, () => sut.hit([{ key, limit: 20, windowMs: 60_000 }])));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.slice(0, 20).map((d) => d.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
  });

  it('fails open, and counts it, when Redis does not answer', async () => {
    const broken = {
      defineCommand(this: Record<string, unknown>, name: string) {
        this[name] = async () => {
          throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
        };
      },
    };
    const sut = new RateLimiter(config, broken as never, new Clock());
    for (let i = 0; i < 5; i++) expect((await sut.hit(rules)).allowed).toBe(true);
    const together = await Promise.all(Array.from({ length: 5 }, () => sut.hit(rules)));
    expect(together.every((d) => d.allowed)).toBe(true);
    expect(sut.failOpenCount).toBe(10);
  });
});
