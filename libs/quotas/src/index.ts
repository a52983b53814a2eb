/** Plans (data), project limits, quota and rate-limit enforcement, usage alerts, and the usage API. */
export { QuotasModule } from './quotas.module';
/** Request-path enforcement: `admit` (gateway) and `assertWithinQuota` (runtimes, e.g. function invocations). */
export { TenantLimitsService } from './tenant-limits.service';
export type { LimitSubject } from './tenant-limits.service';
/** Plans and each org's plan (billing sets it with `setOrgPlan`). */
export { PlansService } from './plans.service';
export { DEFAULT_PLAN_ID, overageCents, statementTimeoutMs } from './plan';
export type { Plan, RateLimitRule } from './plan';
/** A project's spend cap, meter caps, rate limit and alert webhook. */
export { ProjectLimitsRepository, PROJECT_LIMITS_TOPIC } from './project-limits.repository';
export type { ProjectLimits } from './project-limits.repository';
/** GCRA rate limiter, Redis (shared) or memory (embedded); fails open. */
export { RateLimiter } from './rate-limiter';
export { gcra } from './gcra';
export type { RateRule, RateDecision } from './gcra';
/** 50/80/100 % alerts, once per period, through the outbox. */
export { UsageAlertsService, ALERT_THRESHOLDS } from './usage-alerts.service';
export { UsageAlertJob, USAGE_ALERT_JOB } from './usage-alert.job';
export type { UsageAlertData } from './usage-alert.job';
