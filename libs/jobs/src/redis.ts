import { Redis, RedisOptions } from 'ioredis';

/** BullMQ loses jobs under any eviction policy but `noeviction`; refuse to start on such a Redis. */
export async function assertNoEviction(redis: Pick<Redis, 'info'>, where = 'REDIS_URL'): Promise<void> {
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy && policy !== 'noeviction') {
    throw new Error(
      `The Redis at ${where} has maxmemory-policy "${policy}"; Plinth's queues (BullMQ) need "noeviction", or Redis may ` +
        `silently drop jobs and rate-limit state. Set "maxmemory-policy noeviction" in redis.conf (or ` +
        `CONFIG SET maxmemory-policy noeviction) and start again.`,
    );
  }
}

/**
 * A connection for request-path commands (rate limits): fail fast instead of queueing while Redis is away, so
 * callers can fail open.
 */
export async function connectRedis(url: string, extra: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 250,
    connectTimeout: 5000,
    ...extra,
  });
  redis.on('error', () => undefined); // reported by the commands that fail; ioredis reconnects on its own.
  await redis.connect();
  try {
    await assertNoEviction(redis);
  } catch (e) {
    redis.disconnect();
    throw e;
  }
  return redis;
}
