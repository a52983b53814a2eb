import { Injectable } from '@nestjs/common';
import { RateDecision, RateLimiter, RateRule } from '@plinth/quotas';
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

  /**
   * Before an address is even looked up (so unknown addresses cost the caller the same): email-sending requests
   * per IP, then one email per address per interval. The project's budget is spent apart, by
   * {@link spendEmailBudget}, only for a mail that will be sent: otherwise requests to random addresses would
   * use it up and block every real user's mail.
   */
  async checkEmailRequest(projectId: string, settings: AuthSettings, email: string, ip: string): Promise<void> {
    const l = settings.rate_limits;
    const byIp = await this.limiter.hit([{ key: `auth:${projectId}:email:ip:${ip}`, limit: l.email_requests_per_ip, windowMs: HOUR }]);
    if (!byIp.allowed) throw GoTrueException.tooManyRequests(GoTrueCode.OverRequestRateLimit, 'Request rate limit reached', byIp.retryAfterMs);
    if (l.email_interval_seconds > 0) {
      throwEmailLimit(await this.limiter.hit([{ key: `auth:${projectId}:email:to:${email}`, limit: 1, windowMs: l.email_interval_seconds * 1000 }]));
    }
  }

  /** The project's hourly email budget: one unit per email actually sent. */
  async spendEmailBudget(projectId: string, settings: AuthSettings): Promise<void> {
    throwEmailLimit(await this.limiter.hit([{ key: `auth:${projectId}:email:project`, limit: settings.rate_limits.emails_per_hour, windowMs: HOUR }]));
  }
}

function throwEmailLimit(decision: RateDecision): void {
  if (decision.allowed) return;
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  throw GoTrueException.tooManyRequests(
    GoTrueCode.OverEmailSendRateLimit,
    `For security purposes, you can only request this after ${seconds} seconds.`,
    decision.retryAfterMs,
  );
}
