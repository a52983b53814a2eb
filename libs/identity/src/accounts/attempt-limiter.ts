import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { REDIS } from '@plinth/jobs';
import { Clock } from '@plinth/common';

/** At most `limit` attempts counted under `key` per fixed window of `windowMs`, starting at the window's first attempt. */
export interface AttemptRule {
  key: string;
  limit: number;
  windowMs: number;
}

export interface AttemptDecision {
  allowed: boolean;
  /** When refused: until the binding window ends. */
  retryAfterMs: number;
}

const MEMORY_MAX_KEYS = 100_000;
const TAKE = 'plinthAttemptTake';
const GIVE_BACK = 'plinthAttemptGiveBack';

/**
 * KEYS: counters. ARGV: now (ms), then per key its limit and window (ms). All or nothing: refused when any
 * counter is at its limit (then nothing is counted, so refused attempts never extend a lockout), otherwise every
 * counter takes one. A counter is a hash {n, reset}; a window that has ended starts again at the next attempt.
 * Times come from the caller's clock, so the window is the same in Redis and in memory.
 */
const TAKE_LUA = `
local now = tonumber(ARGV[1])
local n, reset = {}, {}
local retry = 0
for i = 1, #KEYS do
  local limit = tonumber(ARGV[i * 2])
  local window = tonumber(ARGV[i * 2 + 1])
  local v = redis.call('HMGET', KEYS[i], 'n', 'reset')
  n[i] = tonumber(v[1]) or 0
  reset[i] = tonumber(v[2]) or 0
  if reset[i] <= now then
    n[i] = 0
    reset[i] = now + window
  end
  if n[i] >= limit and reset[i] - now > retry then retry = reset[i] - now end
end
if retry > 0 then return retry end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'n', n[i] + 1, 'reset', reset[i])
  redis.call('PEXPIRE', KEYS[i], reset[i] - now + 1000)
end
return 0
`;

/** KEYS[1..ARGV[1]]: counters that get one attempt back; the rest are deleted. */
const GIVE_BACK_LUA = `
local back = tonumber(ARGV[1])
for i = 1, #KEYS do
  if i <= back then
    local n = tonumber(redis.call('HGET', KEYS[i], 'n') or '0')
    if n > 0 then redis.call('HSET', KEYS[i], 'n', n - 1) end
  else
    redis.call('DEL', KEYS[i])
  end
end
return 0
`;

type AttemptClient = Redis & {
  [TAKE]?: (...a: Array<string | number>) => Promise<number>;
  [GIVE_BACK]?: (...a: Array<string | number>) => Promise<number>;
};

/**
 * Counts attempts (sign-ins, verification codes, resends) in fixed windows: in Redis when REDIS_URL is set
 * (shared by every api instance, atomic per call), in memory otherwise. An attempt is taken *before* the work it
 * guards (so concurrent guesses can't all pass a check made before any of them failed) and given back when it
 * turns out to be legitimate. Also remembers flags with a lifetime ({@link remember}/{@link remembers}).
 * If Redis fails, attempts are let through (logged), as the shared rate limiter does.
 */
@Injectable()
export class AttemptLimiter {
  private readonly logger = new Logger(AttemptLimiter.name);
  private readonly counters = new Map<string, { n: number; reset: number }>();
  private readonly flags = new Map<string, number>();
  private readonly prefix: string;
  private lastWarn = 0;

  constructor(
    @Inject(PLINTH_CONFIG) config: PlinthConfig,
    @Inject(REDIS) private readonly redis: Redis | null,
    private readonly clock: Clock,
  ) {
    this.prefix = `${config.redis.prefix}:attempts:`;
  }

  async take(rules: readonly AttemptRule[]): Promise<AttemptDecision> {
    const now = this.clock.nowMs();
    if (!this.redis) return this.takeLocal(rules, now);
    try {
      const client = this.client();
      const args = rules.flatMap((r) => [r.limit, r.windowMs]);
      const retry = await client[TAKE]!(rules.length, ...rules.map((r) => this.prefix + r.key), now, ...args);
      return { allowed: retry === 0, retryAfterMs: retry };
    } catch (e) {
      this.warn(e as Error);
      return { allowed: true, retryAfterMs: 0 };
    }
  }

  /** Gives one attempt back to each of `giveBack` and forgets `clear` entirely. */
  async settle(giveBack: readonly string[], clear: readonly string[]): Promise<void> {
    if (!this.redis) {
      for (const k of giveBack) {
        const c = this.counters.get(k);
        if (c && c.n > 0) c.n--;
      }
      for (const k of clear) this.counters.delete(k);
      return;
    }
    try {
      const keys = [...giveBack, ...clear].map((k) => this.prefix + k);
      await this.client()[GIVE_BACK]!(keys.length, ...keys, giveBack.length);
    } catch (e) {
      this.warn(e as Error);
    }
  }

  /** Sets a flag under `key` for `ttlMs`. */
  async remember(key: string, ttlMs: number): Promise<void> {
    if (!this.redis) {
      if (this.flags.size >= MEMORY_MAX_KEYS) this.flags.clear();
      this.flags.set(key, this.clock.nowMs() + ttlMs);
      return;
    }
    try {
      await this.redis.set(this.prefix + key, '1', 'PX', ttlMs);
    } catch (e) {
      this.warn(e as Error);
    }
  }

  async remembers(key: string): Promise<boolean> {
    if (!this.redis) return (this.flags.get(key) ?? 0) > this.clock.nowMs();
    try {
      return (await this.redis.exists(this.prefix + key)) === 1;
    } catch (e) {
      this.warn(e as Error);
      return false;
    }
  }

  private takeLocal(rules: readonly AttemptRule[], now: number): AttemptDecision {
    if (this.counters.size > MEMORY_MAX_KEYS) this.prune(now);
    let retry = 0;
    const next = rules.map((r) => {
      const c = this.counters.get(r.key);
      const live = c && c.reset > now ? c : { n: 0, reset: now + r.windowMs };
      if (live.n >= r.limit) retry = Math.max(retry, live.reset - now);
      return live;
    });
    if (retry > 0) return { allowed: false, retryAfterMs: retry };
    rules.forEach((r, i) => this.counters.set(r.key, { n: next[i].n + 1, reset: next[i].reset }));
    return { allowed: true, retryAfterMs: 0 };
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (c.reset <= now) this.counters.delete(k);
    if (this.counters.size > MEMORY_MAX_KEYS) this.counters.clear();
  }

  private client(): AttemptClient {
    const redis = this.redis as AttemptClient;
    if (!redis[TAKE]) redis.defineCommand(TAKE, { lua: TAKE_LUA });
    if (!redis[GIVE_BACK]) redis.defineCommand(GIVE_BACK, { lua: GIVE_BACK_LUA });
    return redis;
  }

  private warn(e: Error): void {
    if (Date.now() - this.lastWarn < 10_000) return;
    this.lastWarn = Date.now();
    this.logger.warn(`attempt limits unavailable, letting attempts through: ${e.message}`);
  }
}
