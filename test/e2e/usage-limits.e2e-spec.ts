import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import request from 'supertest';
import { OutboxService } from '@plinth/jobs';
import { MeteringService, UsageRepository } from '@plinth/metering';
import { PlansService, UsageAlertsService } from '@plinth/quotas';
import { addMember, bootTestApp, createProject, signup, TestApp, TestProject, TestUser, testRedisPrefix } from '../support/test-app';

/**
 * Metering, usage API, plans, quotas (402), spend caps, alerts and rate limits (429), against real Postgres, and
 * real Redis when REDIS_URL is set (limits shared by two api instances); in memory otherwise.
 */
const redisUrl = process.env.REDIS_URL;
const env = {
  RATE_LIMITS_ENABLED: 'true',
  METERING_FLUSH_MS: '5000',
  REDIS_PREFIX: testRedisPrefix('usage'),
  JOBS_POLL_MS: '20',
};


describe('usage, quotas and rate limits', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    a = await bootTestApp(env, undefined, { withWorker: true });
    b = await bootTestApp(env);
    owner = await signup(a, 'usage-owner');
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  const tenant = (t: TestApp, p: TestProject, key = p.secret) => t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', key);
  const flush = async (t: TestApp = a) => {
    await new Promise((r) => setTimeout(r, 20)); // let 'finish' handlers of the last responses run
    await t.app.get(MeteringService).flush();
  };
  /** A plan made for the test, and the org put on it. */
  async function onPlan(orgId: string, id: string, hardCaps: boolean, included: Record<string, number>, unitPrices: Record<string, number> = {}) {
    await a.sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ($1, $1, false, 99, 0, $2, $3, $4, '{"project": {"limit": 1000, "window_s": 1}, "key": {"limit": 1000, "window_s": 1}, "anon_ip": {"limit": 1000, "window_s": 1}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
      [id, hardCaps, JSON.stringify(included), JSON.stringify(unitPrices)],
    );
    for (const t of [a, b]) {
      t.app.get(PlansService).forget();
      await t.app.get(PlansService).setOrgPlan(orgId, id);
    }
  }

  it('lists the seeded plans publicly', async () => {
    const res = await a.http().get('/v1/plans');
    expect(res.status).toBe(200);
    expect(res.body.map((p: { id: string }) => p.id)).toEqual(['free', 'pro', 'enterprise']);
    expect(res.body[0]).toMatchObject({ hard_caps: true, included: { requests: expect.any(Number) }, rate_limits: { project: { limit: expect.any(Number) } } });
    expect(res.body[0].limits).toMatchObject({ projects_per_org: expect.any(Number), max_upload_bytes: expect.any(Number) });
  });

  it('counts N requests as exactly N after a flush, with egress, and reports them per project and per org', async () => {
    const p = await createProject(a, owner, 'counted');
    const N = 37;
    for (let i = 0; i < N; i++) expect((await tenant(a, p)).status).toBe(200);
    await flush();
    const stored = await a.sql.query(`SELECT sum(quantity)::int AS n FROM control.usage_minute WHERE project_id = $1 AND meter = 'requests:rest'`, [p.id]);
    expect(stored.rows[0].n).toBe(N);

    const usage = await a.http().get(`/v1/projects/${p.ref}/usage?granularity=minute`).set(owner.auth);
    expect(usage.status).toBe(200);
    expect(usage.body.meters.requests).toMatchObject({ used: N, included: 500000, remaining: 500000 - N });
    expect(usage.body.meters.egress_bytes.used).toBeGreaterThan(N * 50);
    const series = usage.body.series.filter((s: { meter: string }) => s.meter === 'requests:rest');
    expect(series.reduce((n: number, s: { quantity: number }) => n + s.quantity, 0)).toBe(N);

    const filtered = await a.http().get(`/v1/projects/${p.ref}/usage?meter=requests&granularity=day`).set(owner.auth);
    expect(Object.keys(filtered.body.meters)).toEqual(['requests']);
    expect(filtered.body.series.every((s: { meter: string }) => s.meter.startsWith('requests'))).toBe(true);

    const org = await a.http().get(`/v1/orgs/${owner.orgId}/usage`).set(owner.auth);
    expect(org.status).toBe(200);
    expect(org.body.totals.requests.used).toBeGreaterThanOrEqual(N);
    expect(org.body.projects).toEqual(expect.arrayContaining([expect.objectContaining({ ref: p.ref, meters: expect.objectContaining({ requests: N }) })]));
  });

  it('adds a retried flush once (batch id), and the hourly roll-up changes no totals', async () => {
    const p = await createProject(a, await signup(a, 'batches'), 'batches');
    const repo = a.app.get(UsageRepository);
    const minute = Date.UTC(2026, 0, 1, 10, 7);
    const rows = [{ projectId: p.id, meter: 'function_invocations', minute, quantity: 3 }];
    expect(await repo.applyBatch('00000000-0000-4000-8000-' + p.id.slice(-12), rows)).toBe(true);
    expect(await repo.applyBatch('00000000-0000-4000-8000-' + p.id.slice(-12), rows)).toBe(false);
    const from = new Date(Date.UTC(2026, 0, 1));
    const to = new Date(Date.UTC(2026, 0, 2));
    // Stored once. (Read directly: whether totals() reads this old minute or its hour depends on the roll-up
    // watermark, which every suite of the run shares and a worker's hourly roll-up may already have moved past it.)
    const minutes = await a.sql.query(`SELECT sum(quantity)::int AS q FROM control.usage_minute WHERE project_id = $1`, [p.id]);
    expect(minutes.rows).toEqual([{ q: 3 }]);

    // Roll up that old hour only: the watermark is shared by every suite of the run, so keep it in the past.
    await repo.rollup(new Date(Date.UTC(2026, 0, 1, 10)), new Date(Date.UTC(2026, 0, 1, 11)), new Date(Date.UTC(2026, 0, 1, 10)));
    const hours = await a.sql.query(`SELECT quantity::int AS q FROM control.usage_hour WHERE project_id = $1`, [p.id]);
    expect(hours.rows).toEqual([{ q: 3 }]);
    expect(await repo.totals([p.id], from, to)).toEqual([{ project_id: p.id, meter: 'function_invocations', quantity: 3 }]);
    const byHour = await repo.series([p.id], from, to, 'hour');
    expect(byHour.map((s) => Number(s.quantity))).toEqual([3]);
  });

  it('blocks a free-plan project at its cap with 402 quota_exceeded, and lets it through next period', async () => {
    const u = await signup(a, 'capped');
    await onPlan(u.orgId, 'test_free_tiny', true, { requests: 5, egress_bytes: 1e12 });
    const p = await createProject(a, u, 'capped');
    for (let i = 0; i < 5; i++) expect((await tenant(a, p)).status).toBe(200);
    const blocked = await tenant(a, p);
    expect(blocked.status).toBe(402);
    const resetsAt = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1)).toISOString();
    // In PostgREST's shape (the edge renders its refusals in the addressed runtime's dialect).
    expect(blocked.body).toEqual({
      code: 'quota_exceeded',
      message: expect.stringContaining('requests'),
      details: { meter: 'requests', limit: 5, resets_at: resetsAt },
      hint: null,
    });
    // Refused requests are not billed.
    await flush();
    expect((await a.http().get(`/v1/projects/${p.ref}/usage`).set(u.auth)).body.meters.requests.used).toBe(5);

    a.clock.set(new Date(Date.parse(resetsAt) + 1000));
    try {
      expect((await tenant(a, p)).status).toBe(200);
    } finally {
      a.clock.set(new Date());
    }
  });

  it('lets a paid plan run past included amounts until the spend cap or a meter cap, then 402', async () => {
    const u = await signup(a, 'spender');
    await onPlan(u.orgId, 'test_paid_tiny', false, { requests: 3 }, { requests: 10 });
    const p = await createProject(a, u, 'spender');
    const put = await a.http().put(`/v1/projects/${p.ref}/limits`).set(u.auth).send({ spend_cap_cents: 20 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ spend_cap_cents: 20, meter_caps: {}, rate_limit: null });
    // 3 included + 2 at 10 cents = 20 cents: the cap.
    for (let i = 0; i < 5; i++) expect((await tenant(a, p)).status).toBe(200);
    const blocked = await tenant(a, p);
    expect(blocked.status).toBe(402);
    expect(blocked.body).toMatchObject({ code: 'quota_exceeded', details: { meter: 'spend_cents', limit: 20 } });

    await a.http().put(`/v1/projects/${p.ref}/limits`).set(u.auth).send({ spend_cap_cents: null, meter_caps: { requests: 7 } }).expect(200);
    expect((await tenant(a, p)).status).toBe(200);
    expect((await tenant(a, p)).status).toBe(200);
    expect((await tenant(a, p)).body).toMatchObject({ code: 'quota_exceeded', details: { meter: 'requests', limit: 7 } });
    await flush();
    const usage = await a.http().get(`/v1/projects/${p.ref}/usage`).set(u.auth);
    expect(usage.body.spend).toEqual({ overage_cents: 40, cap_cents: null });
  });

  it('fires each 50/80/100 % alert once per period through the outbox (email to billing, webhook)', async () => {
    const hooks: unknown[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const u = await signup(a, 'alerted');
      await onPlan(u.orgId, 'test_free_ten', true, { requests: 10 });
      const p = await createProject(a, u, 'alerted');
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await a.http().put(`/v1/projects/${p.ref}/limits`).set(u.auth).send({ alert_webhook_url: url }).expect(200);
      const alerts = async () =>
        (await a.sql.query(`SELECT threshold, notified_at FROM control.usage_alerts WHERE project_id = $1 ORDER BY threshold`, [p.id])).rows;

      for (let i = 0; i < 6; i++) await tenant(a, p);
      await flush();
      expect((await alerts()).map((r) => r.threshold)).toEqual([50]);
      for (let i = 0; i < 6; i++) await tenant(a, p); // 10 admitted, then 402s
      await flush();
      await flush();
      await a.app.get(UsageAlertsService).evaluate([p.id]);
      expect((await alerts()).map((r) => r.threshold)).toEqual([50, 80, 100]);
      const jobs = await a.sql.query(`SELECT count(*)::int AS n FROM control.outbox WHERE name = 'usage-alert' AND data->>'projectId' = $1`, [p.id]);
      expect(jobs.rows[0].n).toBe(3);

      // Delivered by the job runner: each notified once, the webhook called once per alert.
      const until = Date.now() + 10_000;
      while ((await alerts()).some((r) => !r.notified_at) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect((await alerts()).every((r) => r.notified_at)).toBe(true);
      expect(hooks).toHaveLength(3);
      expect(hooks).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'usage.alert', project: p.ref, meter: 'requests', threshold: 100 })]));
      expect(await a.app.get(OutboxService).listDead(u.orgId)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it(`shares rate limits across ${redisUrl ? 'two api instances (Redis)' : 'requests (memory, no Redis)'}: a concurrent burst admits exactly the limit`, async () => {
    const boss = await signup(a, 'limited'); // the free plan holds 2 projects per org: a user of its own
    const p = await createProject(a, boss, 'limited');
    const put = await a.http().put(`/v1/projects/${p.ref}/limits`).set(boss.auth).send({ rate_limit: { limit: 10, window_s: 60 } });
    expect(put.status).toBe(200);
    const apps = redisUrl ? [a, b] : [a];
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => tenant(apps[i % apps.length], p)));
    const admitted = burst.filter((r) => r.status === 200);
    const limited = burst.filter((r) => r.status === 429);
    expect(admitted).toHaveLength(10);
    expect(limited).toHaveLength(20);
    const one = limited[0];
    expect(one.body.code).toBe('rate_limited');
    expect(Number(one.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(one.headers['ratelimit-limit']).toBe('10');
    expect(one.headers['ratelimit-remaining']).toBe('0');
    // Admitted responses carry the headers once less than half of the allowance is left: 4, 3, 2, 1 and 0 here.
    const told = admitted.filter((r) => r.headers['ratelimit-remaining'] !== undefined);
    expect(told.map((r) => Number(r.headers['ratelimit-remaining'])).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(told.every((r) => r.headers['ratelimit-limit'] === '10' && Number(r.headers['ratelimit-reset']) > 0)).toBe(true);
  });

  it('limits anonymous traffic per IP with the plan rule', async () => {
    const u = await signup(a, 'anon');
    const p = await createProject(a, u, 'anon');
    await a.sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ('test_anon', 'test_anon', false, 99, 0, true, '{}', '{}', '{"project": {"limit": 100, "window_s": 60}, "key": {"limit": 100, "window_s": 60}, "anon_ip": {"limit": 3, "window_s": 60}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
    );
    a.app.get(PlansService).forget();
    await a.app.get(PlansService).setOrgPlan(u.orgId, 'test_anon');
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await tenant(a, p, p.publishable)).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    // The secret key is not limited per IP.
    expect((await tenant(a, p)).status).toBe(200);
  });

  it('refuses bad input on every new endpoint with a 400 that changes nothing', async () => {
    const p = await createProject(a, owner, 'validated');
    const usage = (q: string) => a.http().get(`/v1/projects/${p.ref}/usage${q}`).set(owner.auth);
    for (const q of ['?granularity=week', '?from=yesterday', '?meter=bogus', '?nope=1', '?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', '?granularity=minute&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z']) {
      const res = await usage(q);
      expect([q, res.status]).toEqual([q, 400]);
      expect(res.body.error.code).toMatch(/validation_failed|bad_request/);
    }
    expect((await a.http().get(`/v1/orgs/${owner.orgId}/usage?granularity=year`).set(owner.auth)).status).toBe(400);
    expect((await a.http().get(`/v1/orgs/not-a-uuid/usage`).set(owner.auth)).status).toBe(404);

    const put = (body: unknown) => a.http().put(`/v1/projects/${p.ref}/limits`).set(owner.auth).send(body as object);
    for (const body of [
      { spend_cap: 5 },
      { meter_caps: { bogus: 1 } },
      { meter_caps: { requests: -1 } },
      { rate_limit: { limit: 0, window_s: 1 } },
      { rate_limit: { limit: 100000, window_s: 1 } },
      { alert_webhook_url: 'ftp://example.com' },
      { spend_cap_cents: 100 }, // free plan: hard caps, no spend caps
      [],
    ]) {
      const res = await put(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    const malformed = await a.http().put(`/v1/projects/${p.ref}/limits`).set(owner.auth).set('content-type', 'application/json').send('{"rate_limit":');
    expect(malformed.status).toBe(400);
    expect((await a.sql.query(`SELECT count(*)::int AS n FROM control.project_limits WHERE project_id = $1`, [p.id])).rows[0].n).toBe(0);
    expect((await a.http().get('/v1/projects/nope/usage').set(owner.auth)).status).toBe(404);
    expect((await request(a.app.getHttpServer()).get(`/v1/projects/${p.ref}/usage`)).status).toBe(401);
  });

  it("lets only billing rights change limits, and hides another org's usage (404)", async () => {
    const boss = await signup(a, 'rights');
    const p = await createProject(a, boss, 'rights');
    const developer = await signup(a, 'dev');
    const billing = await signup(a, 'billing');
    const stranger = await signup(a, 'stranger');
    await addMember(a, boss, developer, 'developer');
    await addMember(a, boss, billing, 'billing');

    const body = { meter_caps: { requests: 1000 } };
    expect((await a.http().put(`/v1/projects/${p.ref}/limits`).set(developer.auth).send(body)).status).toBe(403);
    expect((await a.http().get(`/v1/projects/${p.ref}/usage`).set(developer.auth)).status).toBe(200);
    const ok = await a.http().put(`/v1/projects/${p.ref}/limits`).set(billing.auth).send(body);
    expect(ok.status).toBe(200);
    expect((await a.http().get(`/v1/projects/${p.ref}/limits`).set(developer.auth)).body.meter_caps).toEqual({ requests: 1000 });
    const audit = await a.sql.query(`SELECT actor_id FROM control.audit_log WHERE action = 'project.limits.update' AND target_id = $1`, [p.ref]);
    expect(audit.rows).toEqual([{ actor_id: billing.id }]);

    expect((await a.http().get(`/v1/projects/${p.ref}/usage`).set(stranger.auth)).status).toBe(404);
    expect((await a.http().get(`/v1/orgs/${boss.orgId}/usage`).set(stranger.auth)).status).toBe(404);
    expect((await a.http().put(`/v1/projects/${p.ref}/limits`).set(stranger.auth).send(body)).status).toBe(404);
    expect((await a.http().get(`/v1/projects/${p.ref}/limits`).set(stranger.auth)).status).toBe(404);
  });
});
