import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { REDIS } from '@plinth/jobs';

/**
 * Takes a slot of a cluster-wide semaphore: a sorted set of holders scored by when they took it (Redis' own clock,
 * so workers' clocks don't matter), where holders older than the expiry are dropped first. A worker that dies
 * holding a slot frees it when its expiry passes. 1 when taken, 0 when every slot is held.
 */
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;
const COMMAND = 'plinthEndpointSlot';
type SlotClient = Redis & { [COMMAND]?: (key: string, token: string, ttlMs: number, max: number) => Promise<number> };

/** How long a slot is held at most (a webhook attempt is bounded by its timeout well within it). */
const SLOT_EXPIRY_MARGIN_MS = 15_000;
/** Polling while every slot is held elsewhere: from this, doubling, up to the cap. */
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;

/**
 * Per-endpoint concurrency: at most `max` deliveries to one endpoint in flight, the rest wait, so one slow endpoint
 * can't take every worker slot and a burst doesn't flood a customer's server. In this process waiters queue in arrival
 * order; with Redis (several workers) each run also holds a slot of the endpoint's semaphore in Redis, so the bound
 * holds across every worker. If Redis fails, the process's own bound still applies (logged), rather than stalling
 * deliveries.
 */
@Injectable()
export class EndpointSlots {
  private readonly logger = new Logger(EndpointSlots.name);
  private readonly endpoints = new Map<string, { active: number; waiting: Array<() => void> }>();
  private readonly prefix: string;
  private readonly expiryMs: number;

  constructor(
    @Optional() @Inject(REDIS) private readonly redis: Redis | null = null,
    @Optional() @Inject(PLINTH_CONFIG) config?: PlinthConfig,
  ) {
    this.prefix = `${config?.redis.prefix ?? 'plinth'}:webhook-slots:`;
    this.expiryMs = (config?.notifications.webhookTimeoutMs ?? 15_000) + SLOT_EXPIRY_MARGIN_MS;
  }

  async run<T>(endpointId: string, max: number, fn: () => Promise<T>): Promise<T> {
    const limit = Math.max(1, max);
    let e = this.endpoints.get(endpointId);
    if (!e) this.endpoints.set(endpointId, (e = { active: 0, waiting: [] }));
    // A finished run hands its slot straight to the next waiter, so a newcomer can't slip in between.
    if (e.active >= limit) await new Promise<void>((resolve) => e.waiting.push(resolve));
    else e.active++;
    try {
      const token = await this.acquire(endpointId, limit);
      try {
        return await fn();
      } finally {
        if (token) await this.release(endpointId, token);
      }
    } finally {
      const next = e.waiting.shift();
      if (next) next();
      else if (--e.active === 0) this.endpoints.delete(endpointId);
    }
  }

  /** A slot of the endpoint's cluster-wide semaphore (waiting while all are held); null without Redis. */
  private async acquire(endpointId: string, max: number): Promise<string | null> {
    if (!this.redis) return null;
    const client = this.redis as SlotClient;
    const token = randomUUID();
    let wait = POLL_MIN_MS;
    for (;;) {
      try {
        if (!client[COMMAND]) client.defineCommand(COMMAND, { numberOfKeys: 1, lua: ACQUIRE_LUA });
        if ((await client[COMMAND]!(this.prefix + endpointId, token, this.expiryMs, max)) === 1) return token;
      } catch (err) {
        this.logger.warn(`webhook slot for ${endpointId} not taken in Redis (${(err as Error).message}); this worker's own bound applies`);
        return null;
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(POLL_MAX_MS, wait * 2);
    }
  }

  private async release(endpointId: string, token: string): Promise<void> {
    try {
      await this.redis!.zrem(this.prefix + endpointId, token);
    } catch (err) {
      // It expires on its own.
      this.logger.warn(`webhook slot for ${endpointId} not given back (${(err as Error).message})`);
    }
  }
}
