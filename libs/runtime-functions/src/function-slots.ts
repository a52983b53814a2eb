import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { REDIS } from '@plinth/jobs';

/**
 * Takes a slot when the project has fewer than `limit` holders: expired holders (a crashed instance's) are dropped
 * first. Scores are expiry times from Redis's own clock, so instances' clocks don't matter.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
`;

/** How long a call waits for a slot before 429, and how often it looks again. */
const QUEUE_MS = 250;
const POLL_MS = 20;
/** A slot outlives its call's timeout by this much before others may take it (a crashed instance's slot). */
const SLOT_MARGIN_MS = 5000;

export type SlotRelease = () => void;

/** The acquire script as a command of the connection (EVALSHA: the script's body isn't sent with every call). */
type SlotClient = Redis & { plinthFnSlotAcquire?: (key: string, limit: number, ttl: number, member: string) => Promise<number> };

/**
 * Concurrent function calls per project: across every api instance with Redis (a sorted set of holders per project,
 * each with an expiry, so an instance that dies can't keep its slots), else in this process. A call at the limit
 * waits up to {@link QUEUE_MS} for a slot before it is refused (429). Redis failing falls back to this process's
 * count (fail open to the local limit, never to unlimited).
 */
@Injectable()
export class FunctionSlots {
  private readonly logger = new Logger(FunctionSlots.name);
  private readonly local = new Map<string, number>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly instance = randomUUID();
  private seq = 0;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {
    const client = redis as SlotClient | null;
    if (client && !client.plinthFnSlotAcquire) client.defineCommand('plinthFnSlotAcquire', { numberOfKeys: 1, lua: ACQUIRE });
  }

  /** A slot for one call of `projectId`, or undefined when none freed within the queueing time. */
  async acquire(projectId: string, limit: number, holdMs: number): Promise<SlotRelease | undefined> {
    const deadline = Date.now() + QUEUE_MS;
    if (this.redis) {
      const key = `${this.config.redis.prefix}:fnslots:${projectId}`;
      const member = `${this.instance}:${++this.seq}`;
      const ttl = holdMs + SLOT_MARGIN_MS;
      for (;;) {
        let got: number;
        try {
          got = Number(await (this.redis as SlotClient).plinthFnSlotAcquire!(key, limit, ttl, member));
        } catch (e) {
          this.logger.warn(`function slots: Redis failed (${(e as Error).message}); counting in this process`);
          return this.acquireLocal(projectId, limit, deadline);
        }
        if (got === 1) {
          return once(() => {
            this.redis!.zrem(key, member).catch(() => undefined);
          });
        }
        if (Date.now() + POLL_MS > deadline) return undefined;
        await sleep(POLL_MS);
      }
    }
    return this.acquireLocal(projectId, limit, deadline);
  }

  private async acquireLocal(projectId: string, limit: number, deadline: number): Promise<SlotRelease | undefined> {
    for (;;) {
      const now = this.local.get(projectId) ?? 0;
      if (now < limit) {
        this.local.set(projectId, now + 1);
        return once(() => this.releaseLocal(projectId));
      }
      const wait = deadline - Date.now();
      if (wait <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const list = this.waiters.get(projectId) ?? [];
        const timer = setTimeout(() => {
          const i = list.indexOf(wake);
          if (i >= 0) list.splice(i, 1);
          resolve();
        }, wait);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        list.push(wake);
        this.waiters.set(projectId, list);
      });
    }
  }

  private releaseLocal(projectId: string): void {
    const left = (this.local.get(projectId) ?? 1) - 1;
    if (left <= 0) this.local.delete(projectId);
    else this.local.set(projectId, left);
    const list = this.waiters.get(projectId);
    const next = list?.shift();
    if (list && !list.length) this.waiters.delete(projectId);
    next?.();
  }
}

function once(fn: () => void): SlotRelease {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
