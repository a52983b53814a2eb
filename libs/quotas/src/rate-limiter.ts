import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock, REDIS } from '@plinth/jobs';
import { gcra, GCRA_BATCH_LUA, RateDecision, RateRule } from './gcra';

const MEMORY_MAX_KEYS = 200_000;
/** Requests decided by one Redis call at most (bounds the script's arguments and its time in Redis). */
const MAX_BATCH = 256;
const COMMAND = 'plinthGcraBatch';
/** A call unanswered this long no longer holds the next batch back (ioredis's commandTimeout ends it anyway). */
const STALL_MS = 500;

interface Waiting {
  rules: readonly RateRule[];
  resolve(d: RateDecision): void;
}

type GcraClient = Redis & { [COMMAND]?: (...a: Array<string | number>) => Promise<number[]> };

/**
 * Rate limits, atomic in Redis (shared by every api instance) or in memory in the embedded default.
 *
 * With Redis, requests are decided in batches by one EVALSHA of {@link GCRA_BATCH_LUA}, which decides them one
 * after the other, all or nothing each: the same answers a call per request would give, so limits stay exact
 * across instances, for one round trip, one script run and one read and write per key instead of one per
 * request. A batch is what arrived within one turn of the event loop, or, while a call is in flight, everything
 * that arrived until its answer: so an idle server sends at once, and a busy one sends larger batches.
 *
 * If Redis can't be reached the request is let through (fail open), logged and counted: rate limits protect
 * capacity, while quotas (which fail closed) protect money.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly memory = new Map<string, number>();
  private readonly prefix: string;
  private queue: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;
  private sentAt = 0;
  private lastWarn = 0;
  /** Requests let through because Redis failed (exposed for monitoring and tests). */
  failOpenCount = 0;

  constructor(
    @Inject(PLINTH_CONFIG) config: PlinthConfig,
    @Inject(REDIS) private readonly redis: Redis | null,
    private readonly clock: Clock,
  ) {
    this.prefix = `${config.redis.prefix}:rl:`;
  }

  /** Whether limits are kept in this process (no Redis): then {@link hitLocal} decides at once. */
  get local(): boolean {
    return this.redis === null;
  }

  /** Counts a request against every rule, all or nothing. */
  hit(rules: readonly RateRule[]): Promise<RateDecision> {
    if (!this.redis) return Promise.resolve(this.hitLocal(rules));
    if (rules.length === 0) return Promise.resolve({ allowed: true, retryAfterMs: 0, limit: 0, remaining: 0, resetMs: 0 });
    return new Promise((resolve) => {
      this.queue.push({ rules, resolve });
      if (!this.scheduled && (this.inFlight === 0 || Date.now() - this.sentAt > STALL_MS)) {
        this.scheduled = true;
        setImmediate(this.sendQueued);
      }
    });
  }

  /** The in-memory limiter, synchronous (only when {@link local}; with Redis use {@link hit}). */
  hitLocal(rules: readonly RateRule[]): RateDecision {
    const now = this.clock.nowMs();
    if (this.memory.size > MEMORY_MAX_KEYS) this.prune(now);
    return gcra(this.memory, rules, now);
  }

  private readonly sendQueued = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    this.sentAt = Date.now();
    if (queue.length <= MAX_BATCH) return this.send(queue);
    for (let i = 0; i < queue.length; i += MAX_BATCH) this.send(queue.slice(i, i + MAX_BATCH));
  };

  private send(batch: Waiting[]): void {
    // Each distinct key and each distinct rule (key, interval, capacity) goes once; requests refer to rules by index.
    const rulesOfKey = new Map<string, number[]>();
    const keys: string[] = [];
    const ruleArgs: number[] = [];
    const requestArgs: number[] = [];
    for (const { rules } of batch) {
      requestArgs.push(rules.length);
      for (const r of rules) {
        const t = (r.windowMs * 1000) / r.limit;
        const cap = t * r.limit;
        let same = rulesOfKey.get(r.key);
        if (same === undefined) {
          keys.push(this.prefix + r.key);
          rulesOfKey.set(r.key, (same = []));
        }
        let idx = 0;
        for (const i of same) {
          if (ruleArgs[i * 3 + 1] === t && ruleArgs[i * 3 + 2] === cap) {
            idx = i + 1;
            break;
          }
        }
        if (idx === 0) {
          const keyIdx = same.length ? ruleArgs[same[0] * 3] : keys.length;
          same.push(ruleArgs.length / 3);
          idx = ruleArgs.push(keyIdx, t, cap) / 3;
        }
        requestArgs.push(idx);
      }
    }
    const args = [this.clock.nowMs() * 1000, ruleArgs.length / 3, ...ruleArgs, ...requestArgs];
    const redis = this.redis as GcraClient;
    let call: Promise<number[]>;
    try {
      if (!redis[COMMAND]) redis.defineCommand(COMMAND, { lua: GCRA_BATCH_LUA }); // EVALSHA; ioredis loads the script per connection
      call = redis[COMMAND]!(keys.length, ...keys, ...args);
    } catch (e) {
      call = Promise.reject(e as Error);
    }
    let answered = 0;
    this.inFlight++;
    call
      .then((out) => {
        for (; answered < batch.length; answered++) {
          const w = batch[answered];
          const o = answered * 5;
          w.resolve({ allowed: out[o] === 1, retryAfterMs: out[o + 1], limit: w.rules[out[o + 2] - 1].limit, remaining: out[o + 3], resetMs: out[o + 4] });
        }
      })
      .catch((e: Error) => {
        for (; answered < batch.length; answered++) batch[answered].resolve(this.failOpen(batch[answered].rules, e));
      })
      .finally(() => {
        // What queued up while this call was out goes next, as one batch.
        if (--this.inFlight === 0 && this.queue.length && !this.scheduled) {
          this.scheduled = true;
          setImmediate(this.sendQueued);
        }
      });
  }

  private failOpen(rules: readonly RateRule[], e: Error): RateDecision {
    this.failOpenCount++;
    if (Date.now() - this.lastWarn > 10_000) {
      this.lastWarn = Date.now();
      this.logger.warn(`rate limiting unavailable, failing open (${this.failOpenCount} so far): ${e.message}`);
    }
    return { allowed: true, retryAfterMs: 0, limit: rules[0]?.limit ?? 0, remaining: rules[0]?.limit ?? 0, resetMs: 0 };
  }

  private prune(nowMs: number): void {
    const now = nowMs * 1000;
    for (const [k, tat] of this.memory) if (tat < now) this.memory.delete(k);
    if (this.memory.size > MEMORY_MAX_KEYS) this.memory.clear();
  }
}
