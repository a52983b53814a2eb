import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlansService, RateLimiter } from '@plinth/quotas';

/** Sends per minute per project when a plan names none (the seeded plans all do). */
export const DEFAULT_SENDS_PER_MINUTE = 300;

/**
 * Sends per project, per minute, from the org's plan (`limits.notification_sends_per_minute`): a bucket of its own
 * beside the edge's request limits, because one send can fan out to a whole topic and to every channel, which costs
 * far more than a request. Shared by every api instance through the rate limiter (Redis; in memory when embedded).
 * Refused sends get 429 with Retry-After, in the notifications dialect, and change nothing.
 */
@Injectable()
export class SendRateLimit {
  private readonly enabled: boolean;

  constructor(
    @Inject(PLINTH_CONFIG) config: PlinthConfig,
    private readonly plans: PlansService,
    private readonly limiter: RateLimiter,
  ) {
    this.enabled = config.rateLimits.enabled;
  }

  async admit(projectId: string, orgId: string): Promise<void> {
    if (!this.enabled) return;
    const plan = this.plans.cachedForOrg(orgId) ?? (await this.plans.forOrg(orgId));
    const perMinute = plan.limits.notification_sends_per_minute ?? DEFAULT_SENDS_PER_MINUTE;
    if (perMinute <= 0) return;
    const rule = { key: `notify-send:${projectId}`, limit: perMinute, windowMs: 60_000 };
    const d = this.limiter.local ? this.limiter.hitLocal([rule]) : await this.limiter.hit([rule]);
    if (d.allowed) return;
    const retry = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
    throw new PlinthException(ErrorCode.RateLimited, `Too many sends: this project's plan allows ${perMinute} per minute; retry after the time in Retry-After`,
      undefined,
      { 'retry-after': retry, 'ratelimit-limit': String(perMinute), 'ratelimit-remaining': '0', 'ratelimit-reset': retry },
      { limit: perMinute, window_s: 60 },
    );
  }
}
