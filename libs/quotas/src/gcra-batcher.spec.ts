import fc from 'fast-check';
import { Clock } from '@plinth/common';
import { gcra, RateDecision, RateRule } from './gcra';
import { runGcraBatchReference } from './gcra-batch-reference';
import { GcraBatcher, GcraScript } from './gcra-batcher';

/** Time that moves only when told to, so the batcher and the reference compute with the same instant. */
class FixedClock extends Clock {
  at = Date.UTC(2026, 0, 1);
  override nowMs(): number {
    return this.at;
  }
}

/**
 * The GCRA script's JavaScript reference over one shared store, standing for one Redis: it runs when a batch is
 * sent (as Redis runs a script when the command arrives) and answers a turn of the event loop later (the round trip).
 */
class ReferenceRedis {
  readonly store = new Map<string, number>();
  calls = 0;
  failing = false;
  readonly script: GcraScript = async (keys, args) => {
    this.calls++;
    if (this.failing) throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
    const out = runGcraBatchReference(this.store, keys, args);
    await new Promise((r) => setImmediate(r));
    return out;
  };
}

describe(GcraBatcher.name, () => {
  const batchers: GcraBatcher[] = [];
  /** A batcher (one api instance) on `redis`, leasing up to `leaseMax` tokens. */
  function instance(redis: ReferenceRedis, clock: Clock = new FixedClock(), leaseMax = 64): GcraBatcher {
    const b = new GcraBatcher(redis.script, clock, leaseMax, 'rl:');
    batchers.push(b);
    return b;
  }
  afterAll(async () => {
    for (const b of batchers) await b.close();
  });

  /** Requests admitted by `sut` out of `n` concurrent ones. */
  async function admitted(sut: GcraBatcher, rules: RateRule[], n: number): Promise<number> {
    const decisions = await Promise.all(Array.from({ length: n }, () => sut.hit(rules)));
    return decisions.filter((d) => d.allowed).length;
  }

  it('admits exactly the limit of a concurrent burst split over two instances', async () => {
    const redis = new ReferenceRedis();
    const [a, b] = [instance(redis), instance(redis)];
    const burst = [{ key: 'burst', limit: 10, windowMs: 60_000 }];
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).hit(burst)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0 && d.limit === 10 && d.remaining === 0)).toBe(true);
  });

  it('decides every request exactly as one gcra call each, in order, however requests are grouped', async () => {
    // Intervals are whole microseconds (limits dividing the window), so the script's stored integers lose nothing.
    const ruleArb = fc.record({ key: fc.constantFrom('a', 'b', 'c'), limit: fc.constantFrom(1, 2, 4, 5), windowMs: fc.constantFrom(100, 1000, 3000) });
    const requestArb = fc.array(ruleArb, { minLength: 1, maxLength: 3 });
    // Groups of requests sent in the same turn of the event loop, each after a pause (ms).
    const groupsArb = fc.array(fc.record({ pause: fc.integer({ min: 0, max: 1500 }), requests: fc.array(requestArb, { minLength: 1, maxLength: 12 }) }), {
      minLength: 1,
      maxLength: 8,
    });
    const clock = new FixedClock();
    const redis = new ReferenceRedis();
    const sut = instance(redis, clock);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(groupsArb, async (groups) => {
        const ns = `eq:${run++}:`;
        const expected = new Map<string, number>();
        const calls = redis.calls;
        for (const g of groups) {
          clock.at += g.pause;
          const batch: RateRule[][] = g.requests.map((rs) => rs.map((r) => ({ ...r, key: ns + r.key })));
          const got: RateDecision[] = await Promise.all(batch.map((rs) => sut.hit(rs)));
          expect(got).toEqual(batch.map((rs) => gcra(expected, rs, clock.at)));
        }
        // One call per group: a turn of the event loop is one batch.
        expect(redis.calls - calls).toBe(groups.length);
      }),
      { numRuns: 200 },
    );
  });

  describe('leases (large limits)', () => {
    // 6400 a minute: one token every 9375 µs (whole µs, so stored times lose nothing), leases of 64 tokens.
    const big = (key: string) => [{ key, limit: 6400, windowMs: 60_000 }];

    it('admits from a lease without a call, counting down exactly as a call per request would (one instance)', async () => {
      const clock = new FixedClock();
      const redis = new ReferenceRedis();
      const sut = instance(redis, clock);
      const rules = big('lease');
      const expected = new Map<string, number>();
      for (let i = 0; i < 200; i++) expect(await sut.hit(rules)).toEqual(gcra(expected, rules, clock.at));
      // The first call leased 64 tokens, and each call after one ran out: 200 requests, 4 calls.
      expect(redis.calls).toBe(Math.ceil(200 / 65));
      expect(sut.leased(rules)?.remaining).toBe(6400 - 201);
    });

    /** Rounds of 40 concurrent requests on each of two instances: leases taken in one round serve the next ones. */
    async function rounds(a: GcraBatcher, b: GcraBatcher, rules: RateRule[], n: number): Promise<number> {
      let total = 0;
      for (let round = 0; round < n; round++) {
        const [x, y] = await Promise.all([admitted(a, rules, 40), admitted(b, rules, 40)]);
        total += x + y;
      }
      return total;
    }

    it('never admits more than the limit across two instances, and the rest is there once leases are given back', async () => {
      const clock = new FixedClock();
      const redis = new ReferenceRedis();
      const [a, b] = [instance(redis, clock), instance(redis, clock)];
      const rules = big('two');
      const total = await rounds(a, b, rules, 100); // 8000 requests
      expect(total).toBeLessThanOrEqual(6400);
      expect(total).toBeGreaterThanOrEqual(6400 - 2 * 64); // at most a lease each left unused
      await Promise.all([a.close(), b.close()]);
      expect(await admitted(instance(redis, clock, 0), rules, 7000)).toBe(6400 - total);
    });

    it('gives unused leased tokens back at shutdown', async () => {
      const clock = new FixedClock();
      const redis = new ReferenceRedis();
      const [a, b] = [instance(redis, clock), instance(redis, clock)];
      const rules = big('back');
      expect(await rounds(a, b, rules, 75)).toBe(6000);
      await Promise.all([a.close(), b.close()]);
      expect(await admitted(instance(redis, clock, 0), rules, 7000)).toBe(400);
    });

    it('gives an expired lease back by itself', async () => {
      const clock = new FixedClock();
      const redis = new ReferenceRedis();
      const sut = instance(redis, clock);
      // 6400 an hour: a token every 562.5 ms, so the 300 ms below refill none.
      const rules = [{ key: 'expire', limit: 6400, windowMs: 3_600_000 }];
      expect((await sut.hit(rules)).allowed).toBe(true); // and leases 64
      expect(sut.leased(rules)).toBeDefined(); // one of them
      clock.at += 300; // the lease expires; the sweep (every 250 ms) gives its 63 tokens back
      expect(sut.leased(rules)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 600));
      expect(await admitted(instance(redis, clock, 0), rules, 7000)).toBe(6400 - 2);
    });

    it('holds a burst past a spent lease for the one call that renews it, and decides it call by call near the limit', async () => {
      const clock = new FixedClock();
      const redis = new ReferenceRedis();
      const sut = instance(redis, clock);
      const rules = [{ key: 'hold', limit: 6400, windowMs: 3_600_000 }];
      expect((await sut.hit(rules)).allowed).toBe(true); // 1 admitted, 64 leased
      redis.calls = 0;
      // 64 from the lease, then one call that decides one request and leases 64 more for the 35 others.
      expect(await admitted(sut, rules, 100)).toBe(100);
      expect(redis.calls).toBe(1);
      // Another instance spends the rest (130 taken so far); this one has 29 leased tokens left.
      expect(await admitted(instance(redis, clock, 0), rules, 7000)).toBe(6400 - 130);
      expect(await admitted(sut, rules, 100)).toBe(29);
      // An empty bucket: the first request's lease ask gets nothing, and the 99 held behind it go in one call.
      clock.at += 300; // past the refusal's pause on asking (and the lease's expiry)
      redis.calls = 0;
      const refused = await Promise.all(Array.from({ length: 100 }, () => sut.hit(rules)));
      expect(refused.every((d) => !d.allowed && d.retryAfterMs > 0 && d.remaining === 0)).toBe(true);
      expect(redis.calls).toBe(2);
      // For 250 ms after a refused ask, none is asked: a burst is one call.
      redis.calls = 0;
      expect(await admitted(sut, rules, 100)).toBe(0);
      expect(redis.calls).toBe(1);
    });

    it('never leases small limits: each request is decided by the script', async () => {
      const redis = new ReferenceRedis();
      const sut = instance(redis);
      const rules = [{ key: 'small', limit: 63, windowMs: 60_000 }];
      expect((await sut.hit(rules)).allowed).toBe(true);
      expect(sut.leased(rules)).toBeUndefined();
    });

    it('never leases with leaseMax 0', async () => {
      const redis = new ReferenceRedis();
      const sut = instance(redis, new FixedClock(), 0);
      const rules = big('none');
      expect(await admitted(sut, rules, 10)).toBe(10);
      expect(sut.leased(rules)).toBeUndefined();
      expect(redis.calls).toBe(1);
    });
  });

  it('fails open, and counts it, when the script cannot run', async () => {
    const redis = new ReferenceRedis();
    redis.failing = true;
    const sut = instance(redis);
    const rules = [{ key: 'p:1', limit: 2, windowMs: 60_000 }];
    for (let i = 0; i < 5; i++) expect((await sut.hit(rules)).allowed).toBe(true);
    const together = await Promise.all(Array.from({ length: 5 }, () => sut.hit(rules)));
    expect(together.every((d) => d.allowed)).toBe(true);
    // With a leasable limit too: requests held for the failed lease ask are let through with it.
    const held = await Promise.all(Array.from({ length: 5 }, () => sut.hit([{ key: 'p:big', limit: 6400, windowMs: 60_000 }])));
    expect(held.every((d) => d.allowed)).toBe(true);
    expect(sut.failOpenCount).toBe(15);
  });
});
