import { Injectable } from '@nestjs/common';
import { RateLimiter, RateRule } from '@plinth/quotas';
import type { AuthSettings } from './auth-config.dto';
import { GoTrueCode, GoTrueException } from './gotrue.exception';

const FIVE_MIN = 300_000;
const HOUR = 3_600_000;

export type LimitedAction = 'sign_in' | 'password' | 'refresh' | 'verify' | 'anonymous';

/**
 * Brute-force and abuse limits of the auth endpoints, per project, per IP and per account, on the shared GCRA
 * limiter (Redis across instances, memory when embedded). Always on, whatever RATE_LIMITS_ENABLED says: these
 * protect end users' accounts, not capacity. Over a limit → 429 with Retry-After.
 */
@Injectable()
export class AuthLimitsService {
  constructor(private readonly limiter: RateLimiter) {}

  async check(projectId: string, settings: AuthSettings, action: LimitedAction, ip: string, account?: string): Promise<void> {
    const l = settings.rate_limits;
    const rules: RateRule[] = [];
    const key = (what: string) => `auth:${projectId}:${what}`;
    switch (action) {
      case 'sign_in':
        rules.push({ key: key(`signin:ip:${ip}`), limit: l.sign_in_per_ip, windowMs: FIVE_MIN });
        break;
      case 'password':
        rules.push({ key: key(`signin:ip:${ip}`), limit: l.sign_in_per_ip, windowMs: FIVE_MIN });
        if (account) rules.push({ key: key(`password:acct:${account}`), limit: l.password_per_account, windowMs: FIVE_MIN });
        break;
      case 'refresh':
        rules.push({ key: key(`refresh:ip:${ip}`), limit: l.token_refresh_per_ip, windowMs: FIVE_MIN });
        break;
      case 'verify':
        rules.push({ key: key(`verify:ip:${ip}`), limit: l.verify_per_ip, windowMs: FIVE_MIN });
        if (account) rules.push({ key: key(`verify:acct:${account}`), limit: l.verify_per_ip, windowMs: FIVE_MIN });
        break;
      case 'anonymous':
        rules.push({ key: key(`anon:ip:${ip}`), limit: l.anonymous_per_ip_per_hour, windowMs: HOUR });
        break;
    }
    const decision = await this.limiter.hit(rules);
    if (!decision.allowed) {
      throw GoTrueException.tooManyRequests(GoTrueCode.OverRequestRateLimit, 'Request rate limit reached', decision.retryAfterMs);
    }
  }

  /** Emails: one per address per interval, and a project-wide hourly budget. */
  async checkEmail(projectId: string, settings: AuthSettings, email: string): Promise<void> {
    const l = settings.rate_limits;
    const rules: RateRule[] = [{ key: `auth:${projectId}:email:project`, limit: l.emails_per_hour, windowMs: HOUR }];
    if (l.email_interval_seconds > 0) rules.push({ key: `auth:${projectId}:email:to:${email}`, limit: 1, windowMs: l.email_interval_seconds * 1000 });
    const decision = await this.limiter.hit(rules);
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw GoTrueException.tooManyRequests(
        GoTrueCode.OverEmailSendRateLimit,
        `For security purposes, you can only request this after ${seconds} seconds.`,
        decision.retryAfterMs,
      );
    }
  }
}
