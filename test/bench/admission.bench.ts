/**
 * What metering and rate limiting add to one gateway request, in CPU µs, measured in-process on the real classes in
 * their steady state (plan, limits and period totals cached): `MeteringService.trackResponse` and its count when
 * Node reports the response finished, and `TenantLimitsService.admit` (far from every limit, so without RateLimit-*
 * headers), for an anonymous caller (project, key and IP rules). Each request gets a real IncomingMessage/ServerResponse pair; the
 * same loop without the two calls is the baseline. Rate limits in memory, and with REDIS_URL also through Redis
 * (leased tokens; Redis's own time in the limiter's script, from INFO commandstats, is added).
 *
 * metering.bench.ts measures the same cost end to end, as requests/s with it on and off; on a shared 2-core machine
 * those figures swing by about as much as the cost itself, so this one pins down its size:
 *   [REDIS_URL=redis://127.0.0.1:6379/6] npm run -s bench -- test/bench/admission.bench.ts
 */
import { channel } from 'node:diagnostics_channel';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { MeteringService, UsageRepository } from '@plinth/metering';
import { Plan, PlansService, ProjectLimits, ProjectLimitsRepository, RateLimiter, TenantLimitsService } from '@plinth/quotas';

const N = Number(process.env.BENCH_REQUESTS ?? 200_000);
const ROUNDS = 5;

/** The bench plan of metering.bench.ts: limits the load can't reach (so they are checked, never refused). */
const plan: Plan = {
  id: 'bench',
  name: 'bench',
  monthly_price_cents: 0,
  hard_caps: true,
  included: { requests: 1e12, egress_bytes: 1e15 },
  unit_price_cents: {},
  rate_limits: { project: { limit: 1_000_000, window_s: 1 }, key: { limit: 1_000_000, window_s: 1 }, anon_ip: { limit: 1_000_000, window_s: 1 } },
  limits: {},
};

const NO_LIMITS: ProjectLimits = { spend_cap_cents: null, meter_caps: {}, rate_limit: null, alert_webhook_url: null };

const finish = channel('http.server.response.finish');

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** CPU µs per request of `n` requests, each a fresh request/response pair handed to `handle`. */
async function measure(n: number, handle: (req: IncomingMessage, res: ServerResponse, socket: Socket) => Promise<void> | void): Promise<number> {
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '203.0.113.9' });
  const start = cpuUs();
  for (let i = 0; i < n; i++) {
    const req = new IncomingMessage(socket);
    req.headers = { apikey: 'pl_pk_x', accept: 'application/json' };
    const res = new ServerResponse(req);
    const p = handle(req, res, socket);
    if (p !== undefined) await p;
  }
  return (cpuUs() - start) / n;
}

async function scenario(name: string, redis: Redis | null): Promise<void> {
  const config = {
    metering: { enabled: true, flushMs: 5000, quotaRefreshMs: 60_000 },
    rateLimits: { enabled: true, leaseMax: 256 },
    redis: { prefix: `plinth-bench-${process.pid}` },
  } as PlinthConfig;
  const clock = new Clock();
  const repo = { applyBatch: async () => true, totals: async () => [] } as unknown as UsageRepository;
  const metering = new MeteringService(config, repo, clock);
  const plans = { cachedForOrg: () => plan, forOrg: async () => plan } as unknown as PlansService;
  const limits = { cached: () => NO_LIMITS, get: async () => NO_LIMITS } as unknown as ProjectLimitsRepository;
  const limiter = new RateLimiter(config, redis, clock);
  const sut = new TenantLimitsService(config, plans, limits, limiter, metering, clock);
  await metering.periodTotals('p1'); // warm: the period totals quota checks read
  const subject = (req: IncomingMessage) => ({ projectId: 'p1', orgId: 'o1', keyId: 'k1', anonymous: true, endUserId: null, client: req });

  const baseline = (_req: IncomingMessage, res: ServerResponse, socket: Socket) => {
    res.setHeader('content-type', 'application/json'); // what every response sets anyway
    finish.publish({ request: _req, response: res, socket, server: null });
  };
  const metered = (req: IncomingMessage, res: ServerResponse, socket: Socket) => {
    res.setHeader('content-type', 'application/json');
    metering.trackResponse(res, 'p1', 'rest');
    const admitted = sut.admit(subject(req), res);
    finish.publish({ request: req, response: res, socket, server: null });
    return admitted;
  };
  await measure(20_000, baseline); // JIT warm-up of both loops
  await measure(20_000, metered);
  const redisUsec = async () => Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec((await redis?.info('commandstats')) ?? '')?.[1] ?? 0);
  const rows: Array<{ base: number; on: number; redis: number }> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const base = await measure(N, baseline);
    const r0 = await redisUsec();
    const on = await measure(N, metered);
    rows.push({ base, on, redis: ((await redisUsec()) - r0) / N });
  }
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const base = mid(rows.map((r) => r.base));
  const added = mid(rows.map((r) => r.on - r.base));
  const inRedis = mid(rows.map((r) => r.redis));
  console.log(
    `${name.padEnd(26)} request/response pair alone ${base.toFixed(2).padStart(6)} µs | metering + limits add ${added.toFixed(2).padStart(5)} µs` +
      (redis ? ` + ${inRedis.toFixed(2)} µs in Redis` : '') +
      ` (medians of ${ROUNDS} rounds of ${N})`,
  );
  await metering.onApplicationShutdown();
  await limiter.onModuleDestroy();
}

async function main(): Promise<void> {
  console.log('\nCPU per gateway request added by metering + rate limiting (in-process, steady state, anonymous caller: 3 rules)');
  await scenario('in-memory rate limits', null);
  if (process.env.REDIS_URL) {
    const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
    await new Promise((r) => redis.once('ready', r));
    try {
      await scenario('Redis rate limits (leases)', redis);
    } finally {
      redis.disconnect();
    }
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
