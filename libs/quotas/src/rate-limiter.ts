import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { REDIS } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { gcra, GCRA_BATCH_LUA, RateDecision, RateRule } from './gcra';
import { GcraBatcher, GcraScript } from './gcra-batcher';

const MEMORY_MAX_KEYS = 200_000;
const COMMAND = 'plinthGcraBatch';

type GcraClient = Redis & { [COMMAND]?: (...a: Array<string | number>) => Promise<number[]> };

/** The batch script on an ioredis connection: EVALSHA of a command defined once (ioredis loads it per connection). */
function redisScript(redis: Redis): GcraScript {
  const client = redis as GcraClient;
  return (keys, args) => {
    try {
      if (!client[COMMAND]) client.defineCommand(COMMAND, { lua: GCRA_BATCH_LUA });
      return client[COMMAND]!(keys.length, ...keys, ...args);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  };
}

/**
 * Rate limits, atomic in Redis (shared by every api instance: batched and leased by {@link GcraBatcher}) or in
 * memory in the embedded default (decided synchronously by {@link gcra}).
 */
@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly memory = new Map<string, number>();
  private readonly remote: GcraBatcher | null;

  constructor(
    @Inject(PLINTH_CONFIG) config: PlinthConfig,
    @Inject(REDIS) redis: Redis | null,
    private readonly clock: Clock,
  ) {
    this.remote = redis ? new GcraBatcher(redisScript(redis), clock, config.rateLimits.leaseMax, `${config.redis.prefix}:rl:`) : null;
  }

  /** Gives every leased token back (at shutdown: other instances can use them at once). */
  async onModuleDestroy(): Promise<void> {
    await this.remote?.close();
  }

  /** Requests let through because Redis failed (exposed for monitoring and tests). */
  get failOpenCount(): number {
    return this.remote?.failOpenCount ?? 0;
  }

  /** Whether limits are kept in this process (no Redis): then {@link hitLocal} decides at once. */
  get local(): boolean {
    return this.remote === null;
  }

  /** Counts a request against every rule, all or nothing. */
  hit(rules: readonly RateRule[]): Promise<RateDecision> {
    return this.remote ? this.remote.hit(rules) : Promise.resolve(this.hitLocal(rules));
  }

  /** The in-memory limiter, synchronous (only when {@link local}; with Redis use {@link hit}). */
  hitLocal(rules: readonly RateRule[]): RateDecision {
    const now = this.clock.nowMs();
    if (this.memory.size > MEMORY_MAX_KEYS) this.prune(now);
    return gcra(this.memory, rules, now);
  }

  /**
   * Admits a request at once from this instance's leases when every one of its rules has a leased token left
   * (and takes them); undefined when any hasn't, and the request must go to Redis ({@link hit}).
   */
  leased(rules: readonly RateRule[]): RateDecision | undefined {
    return this.remote?.leased(rules);
  }

  private prune(nowMs: number): void {
    const now = nowMs * 1000;
    for (const [k, tat] of this.memory) if (tat < now) this.memory.delete(k);
    if (this.memory.size > MEMORY_MAX_KEYS) this.memory.clear();
  }
}
