import { Logger } from '@nestjs/common';
import type { Clock } from '@plinth/common';
import type { RateDecision, RateRule } from './gcra';

/** Requests decided by one Redis call at most (bounds the script's arguments and its time in Redis). */
const MAX_BATCH = 256;
/** A call unanswered this long no longer holds the next batch back (ioredis's commandTimeout ends it anyway). */
const STALL_MS = 500;
/** A lease is at most this fraction of its rule's limit: rules under this many requests per window are never leased. */
const LEASE_FRACTION = 64;
/** Unused leased tokens go back to Redis after this long. */
const LEASE_TTL_MS = 250;
/** Leases kept at most (one per busy project, key, IP or user): past it, new ones aren't taken. */
const LEASES_MAX = 50_000;

interface Waiting {
  rules: readonly RateRule[];
  resolve(d: RateDecision): void;
}

/**
 * Tokens of one rule taken ahead from Redis: requests use them without a call until they run out or expire.
 * `tat` is the key's stored time right after the lease (µs), so `tat - tokens × interval` is where the key
 * stands counting what this instance has used of it.
 */
interface Lease {
  limit: number;
  windowMs: number;
  tokens: number;
  tat: number;
  expires: number;
}

/** The leases of a request's rules while it is being admitted from them. */
const SCRATCH: Array<Lease | undefined> = new Array<Lease | undefined>(8);

type RuleShape = Pick<RateRule, 'limit' | 'windowMs'>;

/** Whether a lease taken for (or a lease ask made for) rule `a` serves rule `b`. */
function sameRule(a: RuleShape | undefined, b: RuleShape): boolean {
  return a !== undefined && a.limit === b.limit && a.windowMs === b.windowMs;
}

/** Whether lease `l` can admit a request of rule `r` at `now`. */
function usable(l: Lease | undefined, r: RateRule, now: number): l is Lease {
  return l !== undefined && l.tokens >= 1 && l.expires > now && sameRule(l, r);
}

/** The bucket time (µs) a lease's unused tokens stand for: what giving them back returns. */
function unusedUs(l: Lease): number {
  return (l.tokens * l.windowMs * 1000) / l.limit;
}

/**
 * One run of `GCRA_BATCH_LUA` (gcra.ts): its KEYS and ARGV, its answer. Redis runs it in production; unit tests run
 * the script's JavaScript reference (`gcra-batch-reference.ts`), so the planning here is covered without Redis.
 */
export type GcraScript = (keys: string[], args: number[]) => Promise<number[]>;

/** Decided with nothing to wait for: the requests of a batch that leases admitted, or a rule-less request. */
const NO_RULES: RateDecision = { allowed: true, retryAfterMs: 0, limit: 0, remaining: 0, resetMs: 0 };

/**
 * The Redis side of `RateLimiter`: batches of requests decided by one run of the GCRA script, and leases.
 *
 * Requests are decided in batches by one EVALSHA of `GCRA_BATCH_LUA` (gcra.ts), which decides them one
 * after the other, all or nothing each: the same answers a call per request would give, so limits stay exact
 * across instances, for one round trip, one script run and one read and write per key instead of one per
 * request. A batch is what arrived within one turn of the event loop, or, while a call is in flight, everything
 * that arrived until its answer: so an idle server sends at once, and a busy one sends larger batches.
 *
 * Large limits are leased: with a call, an instance takes up to 1/64 of a rule's limit (at most
 * RATE_LIMIT_LEASE_MAX tokens, and at most half of what is left) ahead, and admits that many of its next
 * requests at once, without a call. Leased tokens are taken from the shared bucket first, so all instances
 * together never admit more than the limit; tokens unused after 250 ms are given back, so an instance holding
 * a lease it doesn't need keeps at most that many requests of others waiting for that long. Limits under 64
 * requests per window (per-IP and per-user limits, small plans) are never leased: every request is decided
 * by the script, exactly.
 *
 * If the script can't be run the request is let through (fail open), logged and counted: rate limits protect
 * capacity, while quotas (which fail closed) protect money. Plain code (no Nest, no Redis client), so the
 * planning and the leases are unit-tested against the script's reference.
 */
export class GcraBatcher {
  private readonly logger = new Logger('RateLimiter');
  private readonly leases = new Map<string, Lease>();
  /** Keys whose last lease ask got nothing, and until when none is asked for again ({@link noLeaseFor}). */
  private readonly dry = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private queue: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;
  private sentAt = 0;
  private lastWarn = 0;
  /** Requests let through because Redis failed (exposed for monitoring and tests). */
  failOpenCount = 0;

  /** `prefix` goes before every key sent to the script; `leaseMax` 0 never leases. */
  constructor(
    private readonly call: GcraScript,
    private readonly clock: Clock,
    private readonly leaseMax: number,
    private readonly prefix: string,
  ) {
    if (this.leaseMax > 0) {
      this.sweeper = setInterval(() => this.giveBackExpired(), LEASE_TTL_MS);
      this.sweeper.unref();
    }
  }

  /** Gives every leased token back (at shutdown: other instances can use them at once). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.giveBack(() => true);
  }

  /** Counts a request against every rule, all or nothing. */
  hit(rules: readonly RateRule[]): Promise<RateDecision> {
    if (rules.length === 0) return Promise.resolve(NO_RULES);
    const leased = this.leased(rules);
    if (leased !== undefined) return Promise.resolve(leased);
    return new Promise((resolve) => {
      this.queue.push({ rules, resolve });
      if (!this.scheduled && (this.inFlight === 0 || Date.now() - this.sentAt > STALL_MS)) {
        this.scheduled = true;
        setImmediate(this.sendQueued);
      }
    });
  }

  /**
   * Admits a request at once from this instance's leases when every one of its rules has a leased token left
   * (and takes them); undefined when any hasn't, and the request must go to Redis ({@link hit}).
   */
  leased(rules: readonly RateRule[]): RateDecision | undefined {
    if (this.leases.size === 0 || rules.length > SCRATCH.length) return undefined;
    const now = this.clock.nowMs();
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const l = this.leases.get(r.key);
      if (!usable(l, r, now)) return undefined;
      SCRATCH[i] = l;
    }
    // The binding rule is the one with the least left, counting this instance's use of its leases.
    const nowUs = now * 1000;
    let bestIdx = 0;
    let bestRemaining = Infinity;
    let bestReset = 0;
    for (let i = 0; i < rules.length; i++) {
      const l = SCRATCH[i]!;
      SCRATCH[i] = undefined;
      l.tokens--;
      const t = (l.windowMs * 1000) / l.limit;
      // As a call would see it: the stored time less the tokens still leased, and at least this request's own.
      const diff = Math.max(t, l.tat - l.tokens * t - nowUs);
      const remaining = Math.max(0, Math.floor((t * l.limit - diff) / t + 1e-9));
      if (remaining < bestRemaining) {
        bestRemaining = remaining;
        bestIdx = i;
        bestReset = diff;
      }
    }
    return { allowed: true, retryAfterMs: 0, limit: rules[bestIdx].limit, remaining: bestRemaining, resetMs: Math.ceil(bestReset / 1000) };
  }

  /** Resolves a waiting request from leases if they admit it. */
  private admitLeased(w: Waiting): boolean {
    const d = this.leased(w.rules);
    if (d === undefined) return false;
    w.resolve(d);
    return true;
  }

  /** Tokens to ask for with a call deciding `r`: none if its limit is small, or while its lease has tokens left. */
  private want(r: RateRule, now: number): number {
    if (this.leaseMax === 0) return 0;
    const n = Math.min(this.leaseMax, Math.floor(r.limit / LEASE_FRACTION));
    if (n === 0) return 0;
    const dry = this.dry.get(r.key);
    if (dry !== undefined) {
      if (dry > now) return 0;
      this.dry.delete(r.key);
    }
    const l = this.leases.get(r.key);
    if (usable(l, r, now)) return 0;
    return this.leases.size < LEASES_MAX || l !== undefined ? n : 0;
  }

  private readonly sendQueued = (): void => {
    this.scheduled = false;
    let queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    // A lease that arrived while these waited may admit them now.
    if (this.leases.size) {
      queue = queue.filter((w) => !this.admitLeased(w));
      if (queue.length === 0) return;
    }
    this.sentAt = Date.now();
    if (queue.length <= MAX_BATCH) return this.send(queue);
    for (let i = 0; i < queue.length; i += MAX_BATCH) this.send(queue.slice(i, i + MAX_BATCH));
  };

  private send(batch: Waiting[]): void {
    const now = this.clock.nowMs();
    // Each distinct key and each distinct rule (key, interval, capacity) goes once; requests refer to rules by index.
    const rulesOfKey = new Map<string, number[]>();
    const keys: string[] = [];
    const ruleArgs: number[] = [];
    /** Per distinct rule: what a lease would be for (the first rule of each key that wants one). */
    const ruleOf: RateRule[] = [];
    const requestArgs: number[] = [];
    const returns: number[] = [];
    /** Keys this call asks a lease for, and the rule it is for. */
    const asked = new Map<string, RateRule>();
    /** Requests that the leases asked for here can admit: they wait for the answer instead of going to Redis. */
    const held: Waiting[] = [];
    const sent: Waiting[] = [];
    for (const w of batch) {
      const { rules } = w;
      if (asked.size && rules.every((r) => sameRule(asked.get(r.key), r))) {
        held.push(w);
        continue;
      }
      sent.push(w);
      requestArgs.push(rules.length);
      for (const r of rules) {
        const t = (r.windowMs * 1000) / r.limit;
        const cap = t * r.limit;
        let same = rulesOfKey.get(r.key);
        let want = 0;
        if (same === undefined) {
          keys.push(this.prefix + r.key);
          rulesOfKey.set(r.key, (same = []));
          want = this.want(r, now);
          if (want > 0) asked.set(r.key, r);
          // An expired lease's tokens go back in the same call, before the batch is decided.
          const old = this.leases.get(r.key);
          if (old !== undefined && (old.expires <= now || !sameRule(old, r))) {
            this.leases.delete(r.key);
            if (old.tokens >= 1) returns.push(keys.length, unusedUs(old));
          }
        }
        let idx = 0;
        for (const i of same) {
          if (ruleArgs[i * 4 + 1] === t && ruleArgs[i * 4 + 2] === cap) {
            idx = i + 1;
            break;
          }
        }
        if (idx === 0) {
          const keyIdx = same.length ? ruleArgs[same[0] * 4] : keys.length;
          same.push(ruleArgs.length / 4);
          ruleOf.push(r);
          idx = ruleArgs.push(keyIdx, t, cap, want) / 4;
        }
        requestArgs.push(idx);
      }
    }
    const nrules = ruleArgs.length / 4;
    const args = [now * 1000, nrules, ...ruleArgs, returns.length / 2, ...returns, ...requestArgs];
    let answered = 0;
    this.inFlight++;
    this.call(keys, args)
      .then((out) => {
        for (; answered < sent.length; answered++) {
          const w = sent[answered];
          const o = answered * 5;
          w.resolve({ allowed: out[o] === 1, retryAfterMs: out[o + 1], limit: w.rules[out[o + 2] - 1].limit, remaining: out[o + 3], resetMs: out[o + 4] });
        }
        const expires = this.clock.nowMs() + LEASE_TTL_MS;
        for (let i = 0, o = sent.length * 5; i < nrules; i++, o += 2) {
          if (out[o] > 0) this.addLease(ruleOf[i], out[o], out[o + 1], expires);
          else if (ruleArgs[i * 4 + 3] > 0) this.noLeaseFor(ruleOf[i].key, expires);
        }
      })
      .catch((e: Error) => {
        for (; answered < sent.length; answered++) sent[answered].resolve(this.failOpen(sent[answered].rules, e));
        for (const w of held.splice(0)) w.resolve(this.failOpen(w.rules, e));
      })
      .finally(() => {
        // Held requests take from the new leases; those left (none leased, or too few) go with the next batch,
        // with what queued up while this call was out.
        if (held.length) this.queue = held.filter((w) => !this.admitLeased(w)).concat(this.queue);
        if (--this.inFlight === 0 && this.queue.length && !this.scheduled) {
          this.scheduled = true;
          setImmediate(this.sendQueued);
        }
      });
  }

  /**
   * A lease asked for was refused (the bucket is near empty): until `until`, that key's requests are decided in
   * Redis one by one, batched, not held back behind lease asks that would be refused too.
   */
  private noLeaseFor(key: string, until: number): void {
    if (this.dry.size >= LEASES_MAX) this.dry.clear();
    this.dry.set(key, until);
  }

  private addLease(r: RateRule, tokens: number, tat: number, expires: number): void {
    const l = this.leases.get(r.key);
    // Two calls in flight may both have leased for a key: the later stored time counts both.
    if (l !== undefined && sameRule(l, r) && l.expires > this.clock.nowMs()) {
      l.tokens += tokens;
      l.tat = Math.max(l.tat, tat);
      l.expires = expires;
      return;
    }
    if (l !== undefined && l.tokens >= 1) void this.giveBackLeases([[r.key, l]]);
    this.leases.set(r.key, { limit: r.limit, windowMs: r.windowMs, tokens, tat, expires });
  }

  /** Gives back the unused tokens of expired leases (every LEASE_TTL_MS). */
  private giveBackExpired(): void {
    const now = this.clock.nowMs();
    void this.giveBack((l) => l.expires <= now);
  }

  private giveBack(which: (l: Lease) => boolean): Promise<void> {
    const back: Array<[string, Lease]> = [];
    for (const [key, l] of this.leases) {
      if (!which(l)) continue;
      this.leases.delete(key);
      if (l.tokens >= 1) back.push([key, l]);
    }
    return this.giveBackLeases(back);
  }

  private async giveBackLeases(back: Array<[string, Lease]>): Promise<void> {
    for (let i = 0; i < back.length; i += MAX_BATCH) {
      const part = back.slice(i, i + MAX_BATCH);
      const returns = part.flatMap(([, l], j) => [j + 1, unusedUs(l)]);
      // Lost if Redis fails: the tokens come back as the bucket refills, as if used.
      await this.call(
        part.map(([key]) => this.prefix + key),
        [this.clock.nowMs() * 1000, 0, part.length, ...returns],
      ).catch((e: Error) => this.logger.debug(`leased tokens not given back: ${e.message}`));
    }
  }
  private failOpen(rules: readonly RateRule[], e: Error): RateDecision {
    this.failOpenCount++;
    if (Date.now() - this.lastWarn > 10_000) {
      this.lastWarn = Date.now();
      this.logger.warn(`rate limiting unavailable, failing open (${this.failOpenCount} so far): ${e.message}`);
    }
    return { allowed: true, retryAfterMs: 0, limit: rules[0]?.limit ?? 0, remaining: rules[0]?.limit ?? 0, resetMs: 0 };
  }
}
