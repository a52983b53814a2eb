import type { PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/jobs';
import { RateLimiter } from './rate-limiter';

describe(RateLimiter.name, () => {
  const config = { redis: { prefix: 'test' } } as PlinthConfig;
  const rules = [{ key: 'p:1', limit: 2, windowMs: 60_000 }];

  it('limits in memory without Redis', async () => {
    const sut = new RateLimiter(config, null, new Clock());
    const results = [await sut.hit(rules), await sut.hit(rules), await sut.hit(rules)];
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
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
    expect(sut.failOpenCount).toBe(5);
  });
});
