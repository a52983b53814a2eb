import type { EntityManager } from 'typeorm';
import type { PlinthConfig } from '@plinth/config';
import { CacheInvalidation, UNPUSHED_TTL_MS } from './cache-invalidation';

describe(CacheInvalidation.name, () => {
  // Nothing listens on port 1: the listener never connects, as when the database is unreachable.
  let sut: CacheInvalidation;
  beforeEach(() => {
    sut = new CacheInvalidation('postgres://nobody@127.0.0.1:1/none', { database: { clusters: {} } } as unknown as PlinthConfig);
  });
  afterEach(() => sut.onModuleDestroy());

  it('runs this instance’s handlers as soon as a change is published, not only when its notification comes back', async () => {
    const seen: string[] = [];
    sut.subscribe('keys', (k) => seen.push(k));
    const sent: unknown[][] = [];
    const m = { query: async (...args: unknown[]) => void sent.push(args) } as unknown as EntityManager;
    await sut.publish(m, 'keys', 'h1');
    expect(seen).toEqual(['h1']);
    expect(sent).toEqual([['SELECT pg_notify($1, $2)', ['plinth_invalidate', JSON.stringify({ topic: 'keys', key: 'h1' })]]]);
  });

  it('gives the long TTL only while changes are pushed to this instance', () => {
    expect(sut.listening).toBe(false);
    expect(sut.ttl(600_000)).toBe(UNPUSHED_TTL_MS);
    expect(sut.ttl(200)).toBe(200);
  });
});
