/** A rate limit: `limit` requests per `window_s` seconds, with bursts of up to `limit`. */
export interface RateLimitRule {
  limit: number;
  window_s: number;
}

/** A plan, as stored in control.plans (plans are data; the migration seeds free, pro and enterprise). */
export interface Plan {
  id: string;
  name: string;
  monthly_price_cents: number;
  /** Free-style plan: usage past an included amount is refused (402) instead of billed. */
  hard_caps: boolean;
  /** Included amount per base meter per month. */
  included: Record<string, number>;
  /** Price of each unit past the included amount, in cents (paid plans). */
  unit_price_cents: Record<string, number>;
  /**
   * Ceilings; a project may set lower ones. `anon_ip` limits publishable-key traffic per client IP; `end_user` each
   * signed-in end user (default `anon_ip`); `authenticated_ip` all signed-in end users of one client IP together
   * (default {@link AUTHENTICATED_IP_FACTOR} × `anon_ip`).
   */
  rate_limits: { project: RateLimitRule; key: RateLimitRule; anon_ip: RateLimitRule; end_user?: RateLimitRule; authenticated_ip?: RateLimitRule };
  /**
   * Structural limits: projects_per_org, tables_per_project, max_upload_bytes, function_timeout_ms,
   * statement_timeout_ms and anon_statement_timeout_ms (data runtime)…
   */
  limits: Record<string, number>;
}

export const DEFAULT_PLAN_ID = 'free';

/**
 * A plan without `authenticated_ip` lets one IP's signed-in users together send this many times its anonymous
 * per-IP allowance: more than anonymous traffic (many users behind one NAT), but bounded however many sessions
 * one address holds.
 */
export const AUTHENTICATED_IP_FACTOR = 5;

/** Cost of usage past the included amounts, in cents. */
export function overageCents(plan: Plan, used: ReadonlyMap<string, number>): number {
  let cents = 0;
  for (const [meter, price] of Object.entries(plan.unit_price_cents)) {
    const over = (used.get(meter) ?? 0) - (plan.included[meter] ?? 0);
    if (over > 0) cents += over * price;
  }
  return cents;
}

/** Requests per second a rule allows on average. */
export const ruleRate = (r: RateLimitRule) => r.limit / r.window_s;

/**
 * The statement timeout of a data-runtime request: the plan's, or its shorter one for anonymous callers (publishable
 * key, no end user: anyone on the internet), never above `ceiling` (DATA_STATEMENT_TIMEOUT_MS, also the value when the
 * plan sets none).
 */
export function statementTimeoutMs(plan: Plan, anonymous: boolean, ceiling: number): number {
  const own = plan.limits.statement_timeout_ms;
  const ms = anonymous ? (plan.limits.anon_statement_timeout_ms ?? own) : own;
  return typeof ms === 'number' && ms > 0 ? Math.min(ms, ceiling) : ceiling;
}
