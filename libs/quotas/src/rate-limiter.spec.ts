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

  if (redisUrl) {
    describe('leases (large limits, Redis)', () => {
      // 6400 a minute: one token every 9375 µs (whole µs, so stored times lose nothing), leases of 64 tokens.
      const big = () => [{ key: `lease:${run++}`, limit: 6400, windowMs: 60_000 }];

      it('admits from a lease without a call, counting down exactly as a call per request would (one instance)', async () => {
        const clock = new FixedClock();
        clock.at += 60_000 * run;
        const sut = limiter(clock);
        const rules = big();
        const redis = clients[clients.length - 1] as Redis & { plinthGcraBatch: (...a: unknown[]) => Promise<number[]> };
        await sut.hit([{ key: `define:${run++}`, limit: 1, windowMs: 1000 }]); // defines the script command
        const spy = jest.spyOn(redis, 'plinthGcraBatch');
        const expected = new Map<string, number>();
        for (let i = 0; i < 200; i++) {
          const got = await sut.hit(rules);
          expect(got).toEqual(gcra(expected, rules, clock.at));
        }
        // The first call leased 64 tokens, and each call after one ran out: 200 requests, 4 calls.
        expect(spy).toHaveBeenCalledTimes(Math.ceil(200 / 65));
        expect(sut.leased(rules)?.remaining).toBe(6400 - 201);
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

      it('gives unused leased tokens back at shutdown', async () => {
        const clock = new FixedClock();
        clock.at += 60_000 * run;
        const [a, b] = [limiter(clock), limiter(clock)];
        const rules = big();
        expect(await rounds(a, b, rules, 75)).toBe(6000);
        await Promise.all([a.onModuleDestroy(), b.onModuleDestroy()]);
        expect(await admitted(limiter(clock, 0), rules, 7000)).toBe(400);
      });

      it('gives an expired lease back by itself', async () => {
        const clock = new FixedClock();
        clock.at += 60_000 * run;
        const sut = limiter(clock);
        // 6400 an hour: a token every 562.5 ms, so the 300 ms below refill none.
        const rules = [{ key: `expire:${run++}`, limit: 6400, windowMs: 3_600_000 }];
        expect((await sut.hit(rules)).allowed).toBe(true); // and leases 64
        expect(sut.leased(rules)).toBeDefined(); // one of them
        clock.at += 300; // the lease expires; the sweep (every 250 ms) gives its 63 tokens back
        expect(sut.leased(rules)).toBeUndefined();
        await new Promise((r) => setTimeout(r, 600));
        expect(await admitted(limiter(clock, 0), rules, 7000)).toBe(6400 - 2);
      });

      it('holds a burst past a spent lease for the one call that renews it, and decides it call by call near the limit', async () => {
        const clock = new FixedClock();
        clock.at += 60_000 * run;
        const sut = limiter(clock);
        // 6400 an hour: a token every 562.5 ms, so the 300 ms below refill none.
        const rules = [{ key: `hold:${run++}`, limit: 6400, windowMs: 3_600_000 }];
        const redis = clients[clients.length - 1] as Redis & { plinthGcraBatch: (...a: unknown[]) => Promise<number[]> };
        expect((await sut.hit(rules)).allowed).toBe(true); // defines the command; 1 admitted, 64 leased
        const spy = jest.spyOn(redis, 'plinthGcraBatch');
        // 64 from the lease, then one call that decides one request and leases 64 more for the 35 others.
        expect(await admitted(sut, rules, 100)).toBe(100);
        expect(spy).toHaveBeenCalledTimes(1);
        // Another instance spends the rest (130 taken so far); this one has 29 leased tokens left.
        expect(await admitted(limiter(clock, 0), rules, 7000)).toBe(6400 - 130);
        expect(await admitted(sut, rules, 100)).toBe(29);
        // An empty bucket: the first request's lease ask gets nothing, and the 99 held behind it go in one call.
        clock.at += 300; // past the refusal's pause on asking (and the lease's expiry)
        spy.mockClear();
        const refused = await Promise.all(Array.from({ length: 100 }, () => sut.hit(rules)));
        expect(refused.every((d) => !d.allowed && d.retryAfterMs > 0 && d.remaining === 0)).toBe(true);
        expect(spy).toHaveBeenCalledTimes(2);
        // For 250 ms after a refused ask, none is asked: a burst is one call.
        spy.mockClear();
        expect(await admitted(sut, rules, 100)).toBe(0);
        expect(spy).toHaveBeenCalledTimes(1);
      });

      it('never leases small limits: each request is decided in Redis', async () => {
        const sut = limiter();
        const rules = [{ key: `small:${run++}`, limit: 63, windowMs: 60_000 }];
        expect((await sut.hit(rules)).allowed).toBe(true);
        expect(sut.leased(rules)).toBeUndefined();
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
