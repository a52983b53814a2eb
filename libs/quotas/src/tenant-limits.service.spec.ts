import type { PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { Clock } from '@plinth/common';
import type { MeteringService } from '@plinth/metering';
import type { Plan } from './plan';
import type { PlansService } from './plans.service';
import { NO_LIMITS, ProjectLimits, ProjectLimitsRepository } from './project-limits.repository';
import { RateLimiter } from './rate-limiter';
import { LimitSubject, TenantLimitsService } from './tenant-limits.service';

const plan: Plan = {
  id: 'test',
  name: 'test',
  monthly_price_cents: 0,
  hard_caps: true,
  included: { requests: 100, egress_bytes: 1e9 },
  unit_price_cents: {},
  rate_limits: { project: { limit: 100, window_s: 60 }, key: { limit: 100, window_s: 60 }, anon_ip: { limit: 2, window_s: 60 } },
  limits: {},
};

/** Plans and limits whose caches start cold and are warm after the first load, as the real ones. */
class FakePlans {
  loads = 0;
  private warm = false;
  cachedForOrg = () => (this.warm ? plan : undefined);
  forOrg = async () => {
    this.loads++;
    this.warm = true;
    return plan;
  };
}

class FakeLimits {
  constructor(private readonly limits: ProjectLimits = NO_LIMITS) {}
  cached = () => this.limits;
  get = async () => this.limits;
}

/** The error code `fn` throws synchronously, or undefined when it doesn't throw. */
function thrownCode(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    return (e as PlinthException).code;
  }
  return undefined;
}

class Headers {
  readonly values = new Map<string, string>();
  setHeader(name: string, value: string) {
    this.values.set(name, value);
  }
}

describe(TenantLimitsService.name, () => {
  const config = (metering: boolean, rates: boolean) =>
    ({ metering: { enabled: metering }, rateLimits: { enabled: rates }, redis: { prefix: 'unit' } }) as PlinthConfig;
  let used: Map<string, number>;
  let plans: FakePlans;

  function sut(c = config(true, true)) {
    plans = new FakePlans();
    used = new Map();
    const metering = { cachedPeriodTotals: () => used, periodTotals: async () => used, admittedInFlight: () => 0, countAdmitted: () => undefined } as unknown as MeteringService;
    const clock = new Clock();
    return new TenantLimitsService(c, plans as unknown as PlansService, new FakeLimits() as unknown as ProjectLimitsRepository, new RateLimiter(c, null, clock), metering, clock);
  }

  /** A client whose IP is counted when read (Express's `req.ip` parses headers on every read). */
  function client(ip: string) {
    const c = {
      reads: 0,
      get ip() {
        c.reads++;
        return ip;
      },
    };
    return c;
  }

  const subject = (over: Partial<LimitSubject> = {}): LimitSubject => ({
    projectId: 'p1',
    orgId: 'o1',
    keyId: 'k1',
    anonymous: false,
    endUserId: null,
    client: client('10.0.0.1'),
    ...over,
  });

  it('waits only while the plan is loaded, then decides at once, with RateLimit headers once half the allowance is used', async () => {
    const limits = sut();
    const first = new Headers();
    const cold = limits.admit(subject(), first);
    expect(cold).toBeInstanceOf(Promise);
    await cold;
    expect(first.values.size).toBe(0); // 99 of 100 left
    const sent: Array<Map<string, string>> = [];
    for (let i = 2; i <= 60; i++) {
      const h = new Headers();
      expect(limits.admit(subject(), h)).toBeUndefined();
      sent.push(h.values);
    }
    expect(plans.loads).toBe(1);
    // Requests 2–50 leave 98…50 of 100: no headers. From the 51st, 49 and fewer: the tightest rule's figures.
    expect(sent.slice(0, 49).every((h) => h.size === 0)).toBe(true);
    expect(Object.fromEntries(sent[49])).toEqual({ 'ratelimit-limit': '100', 'ratelimit-remaining': '49', 'ratelimit-reset': '31' });
    expect(sent[58].get('ratelimit-remaining')).toBe('40');
  });

  it('limits anonymous callers per project and IP, reading the IP only for them', async () => {
    const limits = sut();
    await limits.admit(subject(), new Headers()); // warm the plan
    const keyed = client('10.0.0.1');
    limits.admit(subject({ client: keyed }), new Headers());
    expect(keyed.reads).toBe(0);
    const a = client('10.0.0.1');
    const b = client('10.0.0.2');
    const anon = (c: { ip: string }, projectId = 'p1') => () => limits.admit(subject({ anonymous: true, client: c, projectId }), new Headers());
    anon(a)();
    anon(a)();
    expect(thrownCode(anon(a))).toBe(ErrorCode.RateLimited);
    expect(thrownCode(anon(b))).toBeUndefined(); // another IP has its own budget
    expect(thrownCode(anon(a, 'p2'))).toBeUndefined(); // and so has the same IP on another project
    expect(a.reads).toBe(4); // once per anonymous request
  });

  it("limits signed-in end users of one IP together, by the authenticated per-IP rule (default 5 × anon_ip)", async () => {
    const limits = sut();
    await limits.admit(subject(), new Headers());
    const user = (id: string, ip = '10.0.0.1') => () => limits.admit(subject({ endUserId: id, client: client(ip) }), new Headers());
    // Each user may send 2 (end_user defaults to anon_ip); the IP's users together 10.
    for (const id of ['u1', 'u2', 'u3', 'u4', 'u5']) {
      expect(thrownCode(user(id))).toBeUndefined();
      expect(thrownCode(user(id))).toBeUndefined();
    }
    expect(thrownCode(user('u6'))).toBe(ErrorCode.RateLimited); // a sixth session from the same IP adds nothing
    expect(thrownCode(user('u7', '10.0.0.2'))).toBeUndefined(); // another IP has its own budget
    expect(thrownCode(user('u1', '10.0.0.3'))).toBe(ErrorCode.RateLimited); // and the user's own rule still holds
  });

  it("takes an anonymous caller's IP from the socket unless X-Forwarded-For came, as Express's req.ip would", async () => {
    const limits = sut();
    await limits.admit(subject(), new Headers());
    // Without the header Express's req.ip is the socket's address whatever proxies are trusted: no parsing needed.
    const direct = Object.assign(client('unused'), { headers: {}, socket: { remoteAddress: '10.0.0.9' } });
    const proxied = Object.assign(client('203.0.113.7'), { headers: { 'x-forwarded-for': '203.0.113.7' }, socket: { remoteAddress: '10.0.0.9' } });
    const anon = (c: LimitSubject['client']) => () => limits.admit(subject({ anonymous: true, client: c }), new Headers());
    anon(direct)();
    anon(direct)();
    expect(direct.reads).toBe(0);
    expect(thrownCode(anon(direct))).toBe(ErrorCode.RateLimited); // the socket's address has used its budget
    expect(thrownCode(anon(proxied))).toBeUndefined(); // the forwarded client has its own
    expect(proxied.reads).toBe(1);
  });

  it('refuses over quota with 402, and checks nothing when metering and rate limits are both off', async () => {
    const limits = sut();
    await limits.admit(subject(), new Headers());
    used.set('requests', 100);
    expect(thrownCode(() => limits.admit(subject(), new Headers()))).toBe(ErrorCode.QuotaExceeded);
    const off = sut(config(false, false));
    used.set('requests', 1e9);
    const headers = new Headers();
    expect(off.admit(subject(), headers)).toBeUndefined();
    expect(headers.values.size).toBe(0);
    expect(plans.loads).toBe(0);
  });
});
