import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { gcra, GCRA_BATCH_LUA, RateDecision, RateRule } from './gcra';
import { runGcraBatchReference } from './gcra-batch-reference';
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
  const config = { redis: { prefix }, rateLimits: { enabled: true, leaseMax: 64 } } as PlinthConfig;
  const rules = [{ key: 'p:1', limit: 2, windowMs: 60_000 }];
  const clients: Redis[] = [];
  let run = 0;

  const limiters: RateLimiter[] = [];

  /** A limiter on its own connection (as each api instance has), and a fixed clock. */
  function limiter(clock = new Clock(), leaseMax = 64): RateLimiter {
    if (!redisUrl) return new RateLimiter(config, null, clock);
    const redis = new Redis(redisUrl);
    clients.push(redis);
    const sut = new RateLimiter({ ...config, rateLimits: { enabled: true, leaseMax } }, redis, clock);
    limiters.push(sut);
    return sut;
  }

  /** Requests admitted by `sut` out of `n` concurrent ones. */
  async function admitted(sut: RateLimiter, rules: RateRule[], n: number): Promise<number> {
    const decisions = await Promise.all(Array.from({ length: n }, () => sut.hit(rules)));
    return decisions.filter((d) => d.allowed).length;
  }

  afterAll(async () => {
    for (const l of limiters) await l.onModuleDestroy();
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

  if (redisUrl) {
    // The batching and leasing themselves are unit-tested in gcra-batcher.spec.ts against the script's JavaScript
    // reference; here the real script is held to that reference, and the whole limiter runs against real Redis.
    describe('on Redis', () => {
      const big = () => [{ key: `lease:${run++}`, limit: 6400, windowMs: 60_000 }];

      it('runs the GCRA script exactly as its JavaScript reference: same answers, same stored times', async () => {
        const redis = new Redis(redisUrl);
        clients.push(redis);
        const ns = `${prefix}:ref:`;
        // Intervals include fractions of a µs (limits not dividing the window), so the script's rounding is compared too.
        const ruleArb = fc.record({ key: fc.integer({ min: 1, max: 3 }), limit: fc.constantFrom(1, 3, 7, 64, 100, 6400), windowMs: fc.constantFrom(1000, 60_000), want: fc.constantFrom(0, 0, 5, 64) });
        const callArb = fc.record({
          pause: fc.integer({ min: 0, max: 3000 }),
          rules: fc.array(ruleArb, { minLength: 1, maxLength: 4 }),
          returns: fc.array(fc.record({ key: fc.integer({ min: 1, max: 3 }), us: fc.integer({ min: 1, max: 5_000_000 }) }), { maxLength: 2 }),
          requests: fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { maxLength: 20 }),
        });
        let at = Date.UTC(2026, 0, 1) * 1000;
        await fc.assert(
          fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 6 }), async (calls) => {
            const keys = [1, 2, 3].map((i) => `${ns}${run}:${i}`);
            run++;
            const mirror = new Map<string, number>();
            for (const c of calls) {
              at += c.pause * 1000;
              const ruleArgs = c.rules.flatMap((r) => {
                const t = (r.windowMs * 1000) / r.limit;
                return [r.key, t, t * r.limit, r.want];
              });
              const requestArgs = c.requests.flatMap((req) => [req.length, ...req.map((i) => (i % c.rules.length) + 1)]);
              const args = [at, c.rules.length, ...ruleArgs, c.returns.length, ...c.returns.flatMap((r) => [r.key, r.us]), ...requestArgs];
              const got = (await redis.eval(GCRA_BATCH_LUA, keys.length, ...keys, ...args)) as number[];
              expect(got).toEqual(runGcraBatchReference(mirror, keys, args));
              const stored = await redis.mget(...keys);
              expect(stored.map((v) => (v === null ? undefined : Number(v)))).toEqual(keys.map((k) => mirror.get(k)));
            }
          }),
          { numRuns: 150 },
        );
        await redis.del(...(await redis.keys(`${ns}*`)));
      });

      it('decides every request exactly as one gcra call each, in order, however requests are grouped', async () => {
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

      /** Rounds of 40 concurrent requests on each of two instances: leases taken in one round serve the next ones. */
      async function rounds(a: RateLimiter, b: RateLimiter, rules: RateRule[], n: number): Promise<number> {
        let total = 0;
        for (let round = 0; round < n; round++) {
          const [x, y] = await Promise.all([admitted(a, rules, 40), admitted(b, rules, 40)]);
          total += x + y;
        }
        return total;
      }

      it('never admits more than the limit across two instances', async () => {
        const clock = new FixedClock();
        clock.at += 60_000 * run;
        const [a, b] = [limiter(clock), limiter(clock)];
        const rules = big();
        const total = await rounds(a, b, rules, 100); // 8000 requests
        expect(total).toBeLessThanOrEqual(6400);
        expect(total).toBeGreaterThanOrEqual(6400 - 2 * 64); // at most a lease each left unused
        // Unused leased tokens go back (at shutdown, or 250 ms after the lease): then exactly the rest is left.
        await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
        expect(await admitted(limiter(clock, 0), rules, 7000)).toBe(6400 - total);
      });
    });
  }

  it('fails open, and counts it, when Redis does not answer', async () => {
    const broken = {
      defineCommand(this: Record<string, unknown>, name: string) {
        this[name] = async () => {
          throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
        };
      },
    };
    const sut = new RateLimiter({ ...config, rateLimits: { enabled: true, leaseMax: 64 } }, broken as never, new Clock());
    for (let i = 0; i < 5; i++) expect((await sut.hit(rules)).allowed).toBe(true);
    const together = await Promise.all(Array.from({ length: 5 }, () => sut.hit(rules)));
    expect(together.every((d) => d.allowed)).toBe(true);
    // With a leasable limit too: requests held for the failed lease ask are let through with it.
    const leasable = [{ key: 'p:big', limit: 6400, windowMs: 60_000 }];
    const held = await Promise.all(Array.from({ length: 5 }, () => sut.hit(leasable)));
    expect(held.every((d) => d.allowed)).toBe(true);
    expect(sut.failOpenCount).toBe(15);
  });
});
