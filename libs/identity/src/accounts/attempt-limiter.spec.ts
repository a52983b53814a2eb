import { Redis } from 'ioredis';
import type { PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { AttemptLimiter } from './attempt-limiter';

/** Against the real Redis when REDIS_URL is set (as CI runs), else the in-memory store the embedded default uses. */
const redisUrl = process.env.REDIS_URL;

class FixedClock extends Clock {
  at = Date.UTC(2026, 0, 1);
  override nowMs(): number {
    return this.at;
  }
}

describe(`${AttemptLimiter.name} (${redisUrl ? 'Redis' : 'memory'})`, () => {
  const config = { redis: { prefix: `plinth-unit-attempts-${process.pid}-${Date.now()}` } } as PlinthConfig;
  let redis: Redis | null = null;
  let clock: FixedClock;
  let sut: AttemptLimiter;
  let n = 0;
  let key: (name: string) => string;

  beforeAll(() => {
    if (redisUrl) redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    // Only the keys this spec made.
    const keys = redis ? await redis.keys(`${config.redis.prefix}:*`) : [];
    if (keys.length) await redis!.del(...keys);
    redis?.disconnect();
  });
  beforeEach(() => {
    clock = new FixedClock();
    sut = new AttemptLimiter(config, redis, clock);
    const run = n++;
    key = (name) => `${run}:${name}`;
  });

  it('admits `limit` attempts per window, then refuses until the window that began with the first attempt ends', async () => {
    const rule = { key: key('a'), limit: 3, windowMs: 60_000 };
    for (let i = 0; i < 3; i++) expect(await sut.take([rule])).toEqual({ allowed: true, retryAfterMs: 0 });
    clock.at += 10_000;
    expect(await sut.take([rule])).toEqual({ allowed: false, retryAfterMs: 50_000 });
    // Refused attempts don't extend the window.
    clock.at += 40_000;
    expect(await sut.take([rule])).toEqual({ allowed: false, retryAfterMs: 10_000 });
    clock.at += 10_000;
    expect((await sut.take([rule])).allowed).toBe(true);
  });

  it('is all or nothing across rules: a refusal by one counts against none', async () => {
    const tight = { key: key('tight'), limit: 1, windowMs: 60_000 };
    const loose = { key: key('loose'), limit: 2, windowMs: 60_000 };
    expect((await sut.take([tight, loose])).allowed).toBe(true);
    expect((await sut.take([tight, loose])).allowed).toBe(false);
    expect((await sut.take([loose])).allowed).toBe(true); // the refused attempt took nothing from `loose`
    expect((await sut.take([loose])).allowed).toBe(false);
  });

  it('gives attempts back and clears counters on settle', async () => {
    const a = { key: key('a'), limit: 1, windowMs: 60_000 };
    const b = { key: key('b'), limit: 1, windowMs: 60_000 };
    await sut.take([a, b]);
    await sut.settle([a.key], [b.key]);
    expect((await sut.take([a])).allowed).toBe(true);
    expect((await sut.take([b])).allowed).toBe(true);
  });

  it('remembers a flag for its lifetime', async () => {
    expect(await sut.remembers(key('flag'))).toBe(false);
    await sut.remember(key('flag'), 60_000);
    expect(await sut.remembers(key('flag'))).toBe(true);
    if (!redis) {
      clock.at += 60_001;
      expect(await sut.remembers(key('flag'))).toBe(false);
    }
  });
});
