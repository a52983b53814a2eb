import { Inject, Injectable } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { Clock } from '@plinth/jobs';
import { METERS, MeteringService, periodEnd } from '@plinth/metering';
import type { RateRule } from './gcra';
import { overageCents, Plan, RateLimitRule } from './plan';
import { PlansService } from './plans.service';
import { ProjectLimits, ProjectLimitsRepository } from './project-limits.service';
import { RateLimiter } from './rate-limiter';

/** Who a tenant request is, for limits (the gateway fills it from its TenantContext). */
export interface LimitSubject {
  projectId: string;
  orgId: string;
  keyId: string;
  /** Publishable-key traffic is also limited per client IP. */
  anonymous: boolean;
  /** An end user signed in through the auth runtime; limited per user instead of per IP. */
  endUserId?: string | null;
  ip: string;
}

interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** Meters every gateway request is checked against (runtimes check their own with `assertWithinQuota`). */
const GATEWAY_METERS = [METERS.requests, METERS.egressBytes];

/** Cached rate rules are dropped past this many entries (they are rebuilt on the next request). */
const RULE_CACHE_MAX = 50_000;

/**
 * Enforcement on the request path, from Plinth's own live counters: quotas first (402: free-plan hard caps,
 * per-meter caps, spend caps), then rate limits (429 with Retry-After and RateLimit-* headers).
 *
 * Once an org's plan, a project's limits and its period totals are cached (the steady state), `admit` waits
 * for nothing but the shared rate limiter (Redis), and for nothing at all with in-memory limits.
 */
@Injectable()
export class TenantLimitsService {
  /** Rate rules per project and per key, rebuilt when the plan or limits object they came from changes. */
  private readonly projectRules = new Map<string, { from: RateLimitRule; rule: RateRule }>();
  private readonly keyRules = new Map<string, { from: RateLimitRule; rule: RateRule }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly plans: PlansService,
    private readonly limits: ProjectLimitsRepository,
    private readonly limiter: RateLimiter,
    private readonly metering: MeteringService,
    private readonly clock: Clock,
  ) {}

  async admit(s: LimitSubject, res: HeaderSink): Promise<void> {
    let plan = this.plans.cachedForOrg(s.orgId);
    let limits = this.limits.cached(s.projectId);
    if (plan === undefined || limits === undefined) {
      [plan, limits] = await Promise.all([plan ?? this.plans.forOrg(s.orgId), limits ?? this.limits.get(s.projectId)]);
    }
    if (this.config.metering.enabled && hasQuota(plan, limits)) {
      const used = this.metering.cachedPeriodTotals(s.projectId) ?? (await this.metering.periodTotals(s.projectId));
      this.checkQuota(used, plan, limits, GATEWAY_METERS);
    }
    if (!this.config.rateLimits.enabled) return;
    const rules: RateRule[] = [
      cachedRule(this.projectRules, s.projectId, 'p:', limits.rate_limit ?? plan.rate_limits.project),
      cachedRule(this.keyRules, s.keyId, 'k:', plan.rate_limits.key),
    ];
    if (s.endUserId) rules.push(rule(`u:${s.projectId}:${s.endUserId}`, plan.rate_limits.end_user ?? plan.rate_limits.anon_ip));
    else if (s.anonymous) rules.push(rule(`ip:${s.projectId}:${s.ip}`, plan.rate_limits.anon_ip));
    const d = this.limiter.local ? this.limiter.hitLocal(rules) : await this.limiter.hit(rules);
    if (!d.allowed) {
      const retry = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
      throw new PlinthException(ErrorCode.RateLimited, 'Too many requests; slow down and retry after the time in Retry-After', undefined, {
        'retry-after': retry,
        'ratelimit-limit': String(d.limit),
        'ratelimit-remaining': '0',
        'ratelimit-reset': retry,
      });
    }
    res.setHeader('ratelimit-limit', String(d.limit));
    res.setHeader('ratelimit-remaining', String(d.remaining));
    res.setHeader('ratelimit-reset', String(Math.max(0, Math.ceil(d.resetMs / 1000))));
  }

  /** For runtimes: 402 if the project may not use more of `meters` this period (e.g. function invocations). */
  async assertWithinQuota(projectId: string, orgId: string, meters: string[]): Promise<void> {
    const [plan, limits] = await Promise.all([this.plans.forOrg(orgId), this.limits.get(projectId)]);
    if (hasQuota(plan, limits)) this.checkQuota(await this.metering.periodTotals(projectId), plan, limits, meters);
  }

  private checkQuota(used: ReadonlyMap<string, number>, plan: Plan, limits: ProjectLimits, meters: readonly string[]): void {
    for (const meter of meters) {
      const amount = used.get(meter) ?? 0;
      const included = plan.included[meter];
      if (plan.hard_caps && included !== undefined && amount >= included) this.exceeded(meter, included);
      const cap = limits.meter_caps[meter];
      if (cap !== undefined && cap !== null && amount >= cap) this.exceeded(meter, cap);
    }
    if (!plan.hard_caps && limits.spend_cap_cents !== null && overageCents(plan, used) >= limits.spend_cap_cents) {
      this.exceeded('spend_cents', limits.spend_cap_cents);
    }
  }

  private exceeded(meter: string, limit: number): never {
    const resetsAt = periodEnd(this.clock.nowMs()).toISOString();
    throw new PlinthException(
      ErrorCode.QuotaExceeded,
      `This project has used its ${meter} allowance for the period; it resets at ${resetsAt}`,
      undefined,
      undefined,
      { meter, limit, resets_at: resetsAt },
    );
  }
}

/** Whether any quota applies: hard caps, a meter cap or a spend cap. */
function hasQuota(plan: Plan, limits: ProjectLimits): boolean {
  if (plan.hard_caps || limits.spend_cap_cents !== null) return true;
  for (const _ in limits.meter_caps) return true;
  return false;
}

function rule(key: string, r: RateLimitRule): RateRule {
  return { key, limit: r.limit, windowMs: r.window_s * 1000 };
}

/** The rule for `id` built from `from`, reused while `from` (a cached plan's or project's rule object) is the same. */
function cachedRule(cache: Map<string, { from: RateLimitRule; rule: RateRule }>, id: string, prefix: string, from: RateLimitRule): RateRule {
  const hit = cache.get(id);
  if (hit !== undefined && hit.from === from) return hit.rule;
  if (cache.size >= RULE_CACHE_MAX) cache.clear();
  const r = rule(prefix + id, from);
  cache.set(id, { from, rule: r });
  return r;
}
