import { PeriodCloserService } from '@plinth/billing';
import { MeteringService } from '@plinth/metering';
import { declareTable } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestUser, upgradeOrg } from '../support/test-app';

/**
 * Billing and quota attacks (issue 13, items 9 and 10): bursts that race a hard cap, and plan downgrades that
 * would leave an org over its new plan's structural limits.
 */
describe('attack: billing limits', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Admitted reads wait on a lock held by the test; they must not time out meanwhile.
    t = await bootTestApp({ JOBS_POLL_MS: '20', DATA_STATEMENT_TIMEOUT_MS: '60000' });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('meter caps under concurrency', () => {
    let owner: TestUser;
    beforeAll(async () => {
      owner = await signup(t, 'burst-owner');
      await upgradeOrg(t, owner); // no free-plan hard caps in the way: the project's own meter cap is what binds
    });

    it('a concurrent burst of 400 requests against a requests cap of current + 50 gets exactly 50 admitted and 350 × 402 on one instance', async () => {
      const p = await createProject(t, owner, 'burst');
      await declareTable(t, owner, p, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'name', type: 'text' }] });
      const tenant = async () => {
        const res = await fetch(`${t.baseUrl}/p/${p.ref}/rest/v1/items?select=*`, { headers: { apikey: p.secret } });
        return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
      };
      // Some usage first, so the cap sits above a non-zero month-to-date total that the instance has loaded.
      for (let i = 0; i < 3; i++) expect((await tenant()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50)); // the last responses' 'finish' is counted
      const metering = t.app.get(MeteringService);
      await metering.flush();
      const current = (await metering.periodTotals(p.id)).get('requests') ?? 0;
      expect(current).toBe(3);
      const put = await t.http().put(`/v1/projects/${p.ref}/limits`).set(owner.auth).send({ meter_caps: { requests: current + 50 } });
      expect(put.status).toBe(200);

      // Every admitted read waits on a lock the test holds, so admitted requests stay in flight (unfinished, thus not
      // yet in the month-to-date totals) while the rest of the burst is decided: the race at its widest.
      const { rows } = await t.sql.query(`SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = $1 AND tablename = 'items'`, [`t_${p.ref}`]);
      await t.sql.query('BEGIN');
      await t.sql.query(`LOCK TABLE ${rows[0].name} IN ACCESS EXCLUSIVE MODE`);
      const settled: Array<{ status: number; body: { error?: Record<string, unknown> } }> = [];
      const burst = Promise.all(Array.from({ length: 400 }, () => tenant().then((r) => (settled.push(r), r))));
      // Refusals need no lock; wait until the whole burst is decided (350 refusals) or long enough that it must be.
      const deadline = Date.now() + 15_000;
      while (settled.filter((r) => r.status === 402).length < 350 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await t.sql.query('COMMIT');
      const results = await burst;

      const refused = results.filter((r) => r.status === 402);
      const admitted = results.filter((r) => r.status !== 402);
      expect(admitted).toHaveLength(50);
      expect(refused).toHaveLength(350);
      expect(refused[0].body).toMatchObject({ code: 'quota_exceeded', details: { meter: 'requests', limit: current + 50 } });
      await new Promise((r) => setTimeout(r, 50));
      await metering.flush();
      metering.forget(p.id);
      expect((await metering.periodTotals(p.id)).get('requests')).toBe(current + 50);
    });
  });

  describe('scheduled downgrades and structural limits', () => {
    const DAY = 86_400_000;
    const billing = async (u: TestUser) => (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body;
    const changePlan = (u: TestUser, plan: string) => t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan });
    const newProject = (u: TestUser, name: string) => t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name });

    it('PUT /v1/orgs/:orgId/billing/plan scheduling pro → free for an org with 3 projects gets 409 listing what exceeds, and schedules nothing', async () => {
      const u = await signup(t, 'down-three');
      await upgradeOrg(t, u);
      for (const name of ['one', 'two', 'three']) await createProject(t, u, name);
      const res = await changePlan(u, 'free');
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({
        code: 'conflict',
        message: expect.stringContaining('projects_per_org: 3 of 2'),
        details: { plan: 'free', exceeds: [{ limit: 'projects_per_org', max: 2, current: 3 }] },
      });
      expect(await billing(u)).toMatchObject({ plan: { id: 'pro' }, pending_plan: null });
    });

    it('with 2 projects the downgrade is scheduled; a 3rd project is then refused with 409 (the scheduled plan allows 2); cancelling the downgrade allows it again', async () => {
      const u = await signup(t, 'down-two');
      await upgradeOrg(t, u);
      for (const name of ['one', 'two']) await createProject(t, u, name);
      const res = await changePlan(u, 'free');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ change: 'downgrade', plan: { id: 'pro' }, pending_plan: { id: 'free' } });

      const third = await newProject(u, 'three');
      expect(third.status).toBe(409);
      expect(third.body.error).toMatchObject({ code: 'conflict', details: { limit: 'projects_per_org', max: 2, plan: 'free', pending_downgrade: true } });
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL`, [u.orgId])).rows[0].n).toBe(2);

      expect((await changePlan(u, 'pro')).body).toMatchObject({ change: 'cancel_downgrade', pending_plan: null });
      expect((await newProject(u, 'three')).status).toBe(201);
    });

    it('while a downgrade to free is pending, POST /v1/projects/:ref/tables past the free plan\'s 50 tables gets 409 (held to the lower plan)', async () => {
      const u = await signup(t, 'down-tables');
      await upgradeOrg(t, u);
      const p = await createProject(t, u, 'tables');
      expect((await changePlan(u, 'free')).status).toBe(200);
      const table = (i: number) => ({ name: `t${i}`, columns: [{ name: 'id', type: 'int8', primary_key: true }] });
      for (let i = 0; i < 50; i++) await declareTable(t, u, p, table(i));
      const over = await t.http().post(`/v1/projects/${p.ref}/tables`).set(u.auth).send(table(50));
      expect(over.status).toBe(409);
      expect(over.body.error.message).toContain('at most 50 tables');
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM control.data_tables WHERE project_id = $1`, [p.id])).rows[0].n).toBe(50);
    });

    it('at the switch an org still over the new plan is moved anyway, keeps its projects, gets the excess in its audit log, and can create no project until back under the limit', async () => {
      const u = await signup(t, 'down-switch');
      await upgradeOrg(t, u);
      const kept = [await createProject(t, u, 'one'), await createProject(t, u, 'two')];
      expect((await changePlan(u, 'free')).status).toBe(200);
      // A third project that got in anyway (as through a race, or limits changed after scheduling): created while
      // the pending downgrade is out of the way, then put back.
      await t.sql.query(`UPDATE control.billing_accounts SET pending_plan_id = NULL WHERE org_id = $1`, [u.orgId]);
      kept.push(await createProject(t, u, 'three'));
      await t.sql.query(`UPDATE control.billing_accounts SET pending_plan_id = 'free' WHERE org_id = $1`, [u.orgId]);

      t.clock.travel(32 * DAY);
      await t.app.get(PeriodCloserService).run();
      expect(await billing(u)).toMatchObject({ plan: { id: 'free' }, pending_plan: null });

      // Nothing was deleted: every project still answers.
      for (const p of kept) expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(200);
      const log = await t.http().get(`/v1/orgs/${u.orgId}/audit-log`).set(u.auth);
      expect(log.body.entries.find((e: { action: string }) => e.action === 'billing.plan.over_limits')).toMatchObject({
        actor: { type: 'system' },
        details: { plan: 'free', exceeds: [{ limit: 'projects_per_org', max: 2, current: 3 }] },
      });
      const fourth = await newProject(u, 'four');
      expect(fourth.status).toBe(409);
      expect(fourth.body.error.details).toMatchObject({ limit: 'projects_per_org', max: 2, plan: 'free' });
      expect((await t.http().delete(`/v1/projects/${kept[2].ref}`).set(u.auth)).status).toBe(204);
      expect((await newProject(u, 'four')).status).toBe(409); // 2 of 2
      expect((await t.http().delete(`/v1/projects/${kept[1].ref}`).set(u.auth)).status).toBe(204);
      expect((await newProject(u, 'four')).status).toBe(201);
    });
  });
});
