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
      expect(refused[0].body.error).toMatchObject({ code: 'quota_exceeded', meter: 'requests', limit: current + 50 });
      await new Promise((r) => setTimeout(r, 50));
      await metering.flush();
      metering.forget(p.id);
      expect((await metering.periodTotals(p.id)).get('requests')).toBe(current + 50);
    });
  });
});
