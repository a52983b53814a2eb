import fc from 'fast-check';
import { gcra, RateRule } from './gcra';

describe(gcra.name, () => {
  const rule = (limit: number, windowMs: number, key = 'k'): RateRule => ({ key, limit, windowMs });

  it('admits a burst of exactly `limit`, then refuses with the time to the next slot', () => {
    const tats = new Map<string, number>();
    const results = Array.from({ length: 12 }, () => gcra(tats, [rule(10, 60_000)], 1_000_000));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.map((r) => r.remaining).slice(0, 10)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(results[10]).toMatchObject({ allowed: false, retryAfterMs: 6000, limit: 10 });
    // One emission interval later, one more is admitted.
    expect(gcra(tats, [rule(10, 60_000)], 1_006_000).allowed).toBe(true);
    expect(gcra(tats, [rule(10, 60_000)], 1_006_000).allowed).toBe(false);
  });

  it('carries at most one window of debt into a changed rule: a bucket drained under 2 a minute admits again one interval later under 20 a second', () => {
    const tats = new Map<string, number>();
    const strict = rule(2, 60_000);
    expect([gcra(tats, [strict], 0).allowed, gcra(tats, [strict], 0).allowed, gcra(tats, [strict], 0).allowed]).toEqual([true, true, false]);
    const relaxed = rule(20, 1000);
    // The stored minute of debt would refuse for ~59 s; now it counts as one new window: a 50 ms interval later the
    // bucket admits again, at the new rate.
    expect(gcra(tats, [relaxed], 1000)).toMatchObject({ allowed: false, retryAfterMs: 50 });
    expect(gcra(tats, [relaxed], 1050).allowed).toBe(true);
    expect(gcra(tats, [relaxed], 1050).allowed).toBe(false);
    expect(gcra(tats, [relaxed], 2050).allowed).toBe(true);
  });

  it('is all or nothing across rules: a refusal consumes no rule', () => {
    const tats = new Map<string, number>();
    const tight = rule(1, 1000, 'tight');
    const loose = rule(100, 1000, 'loose');
    expect(gcra(tats, [loose, tight], 0).allowed).toBe(true);
    const before = tats.get('loose');
    expect(gcra(tats, [loose, tight], 0)).toMatchObject({ allowed: false, limit: 1 });
    expect(tats.get('loose')).toBe(before);
  });

  it('never admits more than limit + elapsed/interval over any sequence of arrivals', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 100, max: 10_000 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 300 }),
        (limit, windowMs, gaps) => {
          const tats = new Map<string, number>();
          let now = 0;
          let admitted = 0;
          for (const g of gaps) {
            now += g;
            if (gcra(tats, [rule(limit, windowMs)], now).allowed) admitted++;
          }
          return admitted <= limit + Math.floor((now * limit) / windowMs) + 1e-9;
        },
      ),
    );
  });
});
