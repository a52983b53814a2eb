import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock, REDIS } from '@plinth/jobs';
import { gcra, GCRA_LUA, RateDecision, RateRule } from './gcra';

const MEMORY_MAX_KEYS = 200_000;

/**
 * Rate limits, atomic in Redis (one Lua call per request, shared by every api instance) or in memory in the
 * embedded default. If Redis can't be reached the request is let through (fail open), logged and counted:
 * rate limits protect capacity, while quotas (which fail closed) protect money.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly memory = new Map<string, number>();
  private lastWarn = 0;
  /** Requests let through because Redis failed (exposed for monitoring and tests). */
  failOpenCount = 0;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(REDIS) private readonly redis: Redis | null,
    private readonly clock: Clock,
  ) {}

  async hit(rules: RateRule[]): Promise<RateDecision> {
    const now = this.clock.nowMs();
    if (!this.redis) {
      if (this.memory.size > MEMORY_MAX_KEYS) this.prune(now);
      return gcra(this.memory, rules, now);
    }
    try {
      const args: Array<string | number> = [now * 1000];
      for (const r of rules) {
        const t = (r.windowMs * 1000) / r.limit;
        args.push(t, t * r.limit);
      }
      const keys = rules.map((r) => `${this.config.redis.prefix}:rl:${r.key}`);
      const [allowed, retryMs, idx, remaining, resetMs] = await this.gcraCommand(keys, args);
      return { allowed: allowed === 1, retryAfterMs: retryMs, limit: rules[idx - 1].limit, remaining, resetMs };
    } catch (e) {
      this.failOpenCount++;
      if (Date.now() - this.lastWarn > 10_000) {
        this.lastWarn = Date.now();
        this.logger.warn(`rate limiting unavailable, failing open (${this.failOpenCount} so far): ${(e as Error).message}`);
      }
      return { allowed: true, retryAfterMs: 0, limit: rules[0]?.limit ?? 0, remaining: rules[0]?.limit ?? 0, resetMs: 0 };
    }
  }

  /** EVALSHA of the script (loaded once per connection by ioredis), falling back to EVAL when Redis lost it. */
  private gcraCommand(keys: string[], args: Array<string | number>): Promise<number[]> {
    const redis = this.redis as Redis & { plinthGcra?: (n: number, ...a: Array<string | number>) => Promise<number[]> };
    if (!redis.plinthGcra) redis.defineCommand('plinthGcra', { lua: GCRA_LUA });
    return redis.plinthGcra!(keys.length, ...keys, ...args);
  }

  private prune(nowMs: number): void {
    const now = nowMs * 1000;
    for (const [k, tat] of this.memory) if (tat < now) this.memory.delete(k);
    if (this.memory.size > MEMORY_MAX_KEYS) this.memory.clear();
  }
}
