import { assertNoEviction } from './redis';

describe(assertNoEviction.name, () => {
  const redis = (policy: string) => ({ info: async () => `# Memory\r\nused_memory:1\r\nmaxmemory_policy:${policy}\r\n` });

  it('accepts noeviction', async () => {
    await expect(assertNoEviction(redis('noeviction') as never)).resolves.toBeUndefined();
  });

  it('refuses any eviction policy with a message that says what to set', async () => {
    await expect(assertNoEviction(redis('allkeys-lru') as never)).rejects.toThrow(/maxmemory-policy "allkeys-lru".*noeviction/s);
    await expect(assertNoEviction(redis('volatile-ttl') as never)).rejects.toThrow(/CONFIG SET maxmemory-policy noeviction/);
  });
});
