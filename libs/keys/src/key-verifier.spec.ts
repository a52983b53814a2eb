import { generateToken, hashToken } from '@plinth/common';
import type { PlinthConfig } from '@plinth/config';
import type { CacheInvalidation } from '@plinth/database';
import type { Repository } from 'typeorm';
import type { ApiKeyEntity } from './api-key.entity';
import { KEY_PREFIX } from './key-format';
import { KeyVerifier } from './key-verifier';

describe(KeyVerifier.name, () => {
  const key = generateToken(KEY_PREFIX.publishable);
  let rows: Map<string, Partial<ApiKeyEntity>>;
  let lookups: number;
  let invalidate: (hash: string) => void;
  let resync: () => void;
  let pushed: boolean;
  let sut: KeyVerifier;

  beforeEach(() => {
    rows = new Map([[hashToken(key), { id: 'k1', projectId: 'p1', type: 'publishable', revokedAt: null, expiresAt: null, scopes: null }]]);
    lookups = 0;
    const repo = {
      findOne: async ({ where }: { where: { keyHash: string } }) => {
        lookups++;
        return rows.get(where.keyHash) ?? null;
      },
      query: async () => undefined,
    } as unknown as Repository<ApiKeyEntity>;
    pushed = true;
    const invalidation = {
      subscribe: (_topic: string, handler: (k: string) => void) => {
        invalidate = handler;
      },
      onResync: (handler: () => void) => {
        resync = handler;
      },
      // As CacheInvalidation does: the long TTL only while revocations are pushed.
      ttl: (ms: number) => (pushed ? ms : Math.min(ms, 1000)),
    } as unknown as CacheInvalidation;
    sut = new KeyVerifier({ keys: { cacheTtlMs: 5000 } } as PlinthConfig, repo, invalidation);
    sut.onModuleInit();
  });
  afterEach(() => sut.onApplicationShutdown());

  it('never looks up malformed keys', async () => {
    expect(await sut.verify('pl_pk_nope')).toBeNull();
    expect(await sut.verify(key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'))).toBeNull();
    expect(lookups).toBe(0);
  });

  it('caches a verification for the TTL, then looks again', async () => {
    const t0 = 1_000_000;
    expect(await sut.verify(key, t0)).toMatchObject({ id: 'k1', projectId: 'p1' });
    expect(await sut.verify(key, t0 + 4999)).toMatchObject({ id: 'k1' });
    expect(lookups).toBe(1);
    rows.get(hashToken(key))!.revokedAt = new Date();
    expect(await sut.verify(key, t0 + 5001)).toBeNull();
    expect(lookups).toBe(2);
  });

  it('drops a cached key at once when another instance announces a revoke', async () => {
    expect(await sut.verify(key)).not.toBeNull();
    rows.get(hashToken(key))!.revokedAt = new Date();
    invalidate(hashToken(key));
    expect(await sut.verify(key)).toBeNull();
  });

  it('keeps a verification for a long TTL while revocations are pushed, and a short one while they are not', async () => {
    const long = new KeyVerifier({ keys: { cacheTtlMs: 600_000 } } as PlinthConfig, { findOne: async () => (lookups++, rows.get(hashToken(key))), query: async () => undefined } as unknown as Repository<ApiKeyEntity>, {
      subscribe: () => undefined,
      onResync: () => undefined,
      ttl: (ms: number) => (pushed ? ms : Math.min(ms, 1000)),
    } as unknown as CacheInvalidation);
    const t0 = 3_000_000;
    expect(await long.verify(key, t0)).not.toBeNull();
    expect(await long.verify(key, t0 + 599_000)).not.toBeNull();
    expect(lookups).toBe(1);
    pushed = false;
    expect(await long.verify(key, t0 + 600_001)).not.toBeNull();
    expect(lookups).toBe(2);
    expect(await long.verify(key, t0 + 601_002)).not.toBeNull();
    expect(lookups).toBe(3);
  });

  it('forgets every cached key when notifications may have been missed', async () => {
    expect(await sut.verify(key)).not.toBeNull();
    rows.get(hashToken(key))!.revokedAt = new Date();
    expect(await sut.verify(key)).not.toBeNull();
    resync();
    expect(await sut.verify(key)).toBeNull();
  });

  it('checks expiry against the clock on every use, even when cached', async () => {
    const t0 = 2_000_000;
    rows.get(hashToken(key))!.expiresAt = new Date(t0 + 1000);
    expect(await sut.verify(key, t0)).not.toBeNull();
    expect(await sut.verify(key, t0 + 1000)).toBeNull();
    expect(lookups).toBe(1);
  });

  it('caches unknown keys too, so a flood of random valid-looking keys costs one lookup each per TTL', async () => {
    const stranger = generateToken(KEY_PREFIX.secret);
    expect(await sut.verify(stranger, 10)).toBeNull();
    expect(await sut.verify(stranger, 20)).toBeNull();
    expect(lookups).toBe(1);
  });
});
