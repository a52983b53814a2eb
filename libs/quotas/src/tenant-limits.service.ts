import { Inject, Injectable } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { Clock } from '@plinth/common';
import { METERS, MeteringService, periodEnd } from '@plinth/metering';
import type { RateDecision, RateRule } from './gcra';
import { AUTHENTICATED_IP_FACTOR, overageCents, Plan, RateLimitRule } from './plan';
import { PlansService } from './plans.service';
import { ProjectLimits, ProjectLimitsRepository } from './project-limits.repository';
import { RateLimiter } from './rate-limiter';

/** Who a tenant request is, for limits (the gateway fills it from its TenantContext). */
export interface LimitSubject {
  projectId: string;
  orgId: string;
  keyId: string;
  /** Publishable-key traffic is also limited per client IP. */
  anonymous: boolean;
  /**
   * An end user signed in through the auth runtime; limited per user, and all signed-in users of one client IP
   * together by the plan's (higher) authenticated per-IP rule.
   */
  endUserId?: string | null;
  /**
   * The request; its `ip` (Express's, trust proxy applied: a getter that parses headers) is read only for a
   * per-IP rule, and only when an X-Forwarded-For header came (else it is the socket's address).
   */
  client: { readonly ip?: string; readonly headers?: { readonly [name: string]: string | string[] | undefined }; readonly socket?: { remoteAddress?: string } | null };
}

interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** Meters every gateway request is checked against (runtimes check their own with `assertWithinQuota`). */
const GATEWAY_METERS = [METERS.requests, METERS.egressBytes];

/** Cached rate rules are dropped past this many projects, keys, or IPs and users of one project (rebuilt on demand). */
const RULE_CACHE_MAX = 50_000;
const CLIENT_RULES_MAX = 10_000;

/**
 * A project's rate rules, built once and reused while the plan and limits objects they came from are the same
 * (those caches hand out the same objects until they reload): the request path allocates no rule or key string.
 */
interface ProjectRules {
  projectFrom: RateLimitRule;
  project: RateRule;
  ipFrom: RateLimitRule;
  ipPrefix: string;
  byIp: Map<string, RateRule>;
  userFrom: RateLimitRule;
  userPrefix: string;
  byUser: Map<string, RateRule>;
  authIpFrom: RateLimitRule;
  authIpPrefix: string;
  byAuthIp: Map<string, RateRule>;
}

/**
 * Enforcement on the request path, from Plinth's own live counters: quotas first (402: free-plan hard caps,
 * per-meter caps, spend caps), then rate limits (429 with Retry-After and RateLimit-* headers).
 *
 * Once an org's plan, a project's limits and its period totals are cached (the steady state), `admit` is
 * synchronous with in-memory limits or while the shared rate limiter's leases last, and waits for Redis otherwise.
 */
@Injectable()
export class TenantLimitsService {
  private readonly projectRules = new Map<string, ProjectRules>();
  private readonly keyRules = new Map<string, { from: RateLimitRule; rule: RateRule }>();
  private readonly quotas: boolean;
  private readonly rates: boolean;

  constructor(
    @Inject(PLINTH_CONFIG) config: PlinthConfig,
    private readonly plans: PlansService,
    private readonly limits: ProjectLimitsRepository,
    private readonly limiter: RateLimiter,
    private readonly metering: MeteringService,
    private readonly clock: Clock,
  ) {
    this.quotas = config.metering.enabled;
    this.rates = config.rateLimits.enabled;
  }

  /**
   * Admits a gateway request or throws (402 over quota, 429 over rate), setting RateLimit-* headers on `res` once
   * less than half of the tightest rule's allowance is left.
   * Returns undefined when decided at once (every cache warm, in-memory limits or leased tokens, or nothing enabled), else a
   * promise to await: the request path allocates no promise when it need not wait.
   */
  admit(s: LimitSubject, res: HeaderSink): Promise<void> | undefined {
    if (!this.quotas && !this.rates) return undefined;
    const plan = this.plans.cachedForOrg(s.orgId);
    const limits = this.limits.cached(s.projectId);
    if (plan === undefined || limits === undefined) return this.admitCold(s, res);
    if (this.quotas && hasQuota(plan, limits)) {
      const used = this.metering.cachedPeriodTotals(s.projectId);
      if (used === undefined) return this.admitCold(s, res);
      this.checkQuota(used, plan, limits, GATEWAY_METERS, this.metering.admittedInFlight(s.projectId));
      this.metering.countAdmitted(res, s.projectId);
    }
    if (!this.rates) return undefined;
    const rules = this.rules(s, plan, limits);
    const now = this.limiter.local ? this.limiter.hitLocal(rules) : this.limiter.leased(rules);
    if (now !== undefined) {
      applyDecision(now, res);
      return undefined;
    }
    return this.limiter.hit(rules).then((d) => applyDecision(d, res));
  }

  /** {@link admit} when a plan, limits or period totals must be loaded first. */
  private async admitCold(s: LimitSubject, res: HeaderSink): Promise<void> {
    const [plan, limits] = await Promise.all([this.plans.forOrg(s.orgId), this.limits.get(s.projectId)]);
    if (this.quotas && hasQuota(plan, limits)) {
      const used = this.metering.cachedPeriodTotals(s.projectId) ?? (await this.metering.periodTotals(s.projectId));
      this.checkQuota(used, plan, limits, GATEWAY_METERS, this.metering.admittedInFlight(s.projectId));
      this.metering.countAdmitted(res, s.projectId);
    }
    if (!this.rates) return;
    const rules = this.rules(s, plan, limits);
    applyDecision(this.limiter.local ? this.limiter.hitLocal(rules) : await this.limiter.hit(rules), res);
  }

  /**
   * The request's rules: its project's, its key's, and its end user's and their client IP's (one bucket for every
   * signed-in user of that IP, so several sessions don't multiply it), or (anonymous) its client IP's.
   */
  private rules(s: LimitSubject, plan: Plan, limits: ProjectLimits): RateRule[] {
    const p = this.rulesOf(s.projectId, plan, limits);
    const key = cachedRule(this.keyRules, s.keyId, 'k:', plan.rate_limits.key);
    if (s.endUserId) {
      return [p.project, key, clientRule(p.byUser, p.userPrefix, s.endUserId, p.userFrom), clientRule(p.byAuthIp, p.authIpPrefix, clientIp(s.client), p.authIpFrom)];
    }
    if (s.anonymous) return [p.project, key, clientRule(p.byIp, p.ipPrefix, clientIp(s.client), p.ipFrom)];
    return [p.project, key];
  }

  private rulesOf(projectId: string, plan: Plan, limits: ProjectLimits): ProjectRules {
    const projectFrom = limits.rate_limit ?? plan.rate_limits.project;
    const ipFrom = plan.rate_limits.anon_ip;
    const userFrom = plan.rate_limits.end_user ?? plan.rate_limits.anon_ip;
    const authIpFrom = plan.rate_limits.authenticated_ip ?? authenticatedIpDefault(ipFrom);
    let p = this.projectRules.get(projectId);
    if (p !== undefined && p.projectFrom === projectFrom && p.ipFrom === ipFrom && p.userFrom === userFrom && p.authIpFrom === authIpFrom) return p;
    if (this.projectRules.size >= RULE_CACHE_MAX) this.projectRules.clear();
    p = {
      projectFrom,
      project: rule(`p:${projectId}`, projectFrom),
      ipFrom,
      ipPrefix: `ip:${projectId}:`,
      byIp: new Map(),
      userFrom,
      userPrefix: `u:${projectId}:`,
      byUser: new Map(),
      authIpFrom,
      authIpPrefix: `aip:${projectId}:`,
      byAuthIp: new Map(),
    };
    this.projectRules.set(projectId, p);
    return p;
  }

  /** For runtimes: 402 if the project may not use more of `meters` this period (e.g. function invocations). */
  async assertWithinQuota(projectId: string, orgId: string, meters: string[]): Promise<void> {
    const [plan, limits] = await Promise.all([this.plans.forOrg(orgId), this.limits.get(projectId)]);
    if (hasQuota(plan, limits)) this.checkQuota(await this.metering.periodTotals(projectId), plan, limits, meters, 0);
  }

  /**
   * `inFlight`: gateway requests admitted on this instance whose responses haven't finished (so aren't in `used`
   * yet), counted against request quotas so a concurrent burst can't pass a cap all at once.
   */
  private checkQuota(used: ReadonlyMap<string, number>, plan: Plan, limits: ProjectLimits, meters: readonly string[], inFlight: number): void {
    for (const meter of meters) {
      const amount = (used.get(meter) ?? 0) + (meter === METERS.requests ? inFlight : 0);
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

/**
 * Express's `req.ip` (trust proxy applied), without parsing headers when there is no X-Forwarded-For: then the
 * only address is the socket's, whatever proxies are trusted.
 */
function clientIp(c: LimitSubject['client']): string {
  const socketAddress = c.socket?.remoteAddress;
  if (c.headers !== undefined && c.headers['x-forwarded-for'] === undefined && socketAddress !== undefined) return socketAddress;
  return c.ip ?? '';
}

/**
 * Throws the 429 of a refused request (Retry-After and RateLimit-* headers). An admitted one carries the RateLimit-*
 * headers of its tightest rule once less than half of that rule's allowance is left: a client nearing a limit sees
 * how near, one far from every limit isn't sent (and billed egress for) three headers on every response, and the
 * request path is spared setting them (about half of what `admit` took in a loaded server).
 */
function applyDecision(d: RateDecision, res: HeaderSink): void {
  if (!d.allowed) {
    const retry = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
    throw new PlinthException(ErrorCode.RateLimited, 'Too many requests; slow down and retry after the time in Retry-After', undefined, {
      'retry-after': retry,
      'ratelimit-limit': String(d.limit),
      'ratelimit-remaining': '0',
      'ratelimit-reset': retry,
    });
  }
  if (d.remaining * 2 >= d.limit) return;
  res.setHeader('ratelimit-limit', String(d.limit));
  res.setHeader('ratelimit-remaining', String(d.remaining));
  res.setHeader('ratelimit-reset', String(Math.max(0, Math.ceil(d.resetMs / 1000))));
}

/** A per-IP or per-user rule of a project, kept in that project's rules (built with its key once per client). */
function clientRule(cache: Map<string, RateRule>, prefix: string, id: string, from: RateLimitRule): RateRule {
  let r = cache.get(id);
  if (r === undefined) {
    if (cache.size >= CLIENT_RULES_MAX) cache.clear();
    cache.set(id, (r = rule(prefix + id, from)));
  }
  return r;
}

/** The default authenticated per-IP rule of a plan's `anon_ip` rule; the same object while that rule is (cache identity). */
const authenticatedIpDefaults = new WeakMap<RateLimitRule, RateLimitRule>();
function authenticatedIpDefault(anonIp: RateLimitRule): RateLimitRule {
  let r = authenticatedIpDefaults.get(anonIp);
  if (r === undefined) authenticatedIpDefaults.set(anonIp, (r = { limit: anonIp.limit * AUTHENTICATED_IP_FACTOR, window_s: anonIp.window_s }));
  return r;
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
