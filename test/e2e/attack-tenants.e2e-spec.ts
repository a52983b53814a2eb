import { Client } from 'pg';
import { TenantDatabase } from '@plinth/database';
import { tenantNames } from '@plinth/tenancy';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, upgradeOrg } from '../support/test-app';
import { declareTable, putRules, rest } from '../support/data';

/**
 * Issue 13, tenants against tenants on the shared tenant pool:
 * - a noisy neighbour: a project whose every statement blocks can hold only its share of the pool's connections;
 *   its further requests wait in its own bounded queue, then get 429 with Retry-After, while other projects are served;
 * - statement timeouts by plan and caller: anonymous callers get the plan's shorter one;
 * - role confinement: the tenant login role may become every project's data role, so a statement that switches role
 *   (SQL injected into a generated statement) must not hand the rest of its transaction to another tenant.
 */
describe('attack: tenants against tenants', () => {
  let t: TestApp;
  let owner: TestUser;
  let hostile: TestProject;
  let quiet: TestProject;
  let freeOwner: TestUser;
  let free: TestProject;

  /** A superuser connection holding an ACCESS EXCLUSIVE lock on a table until `release`: every statement on it blocks. */
  const lockTable = async (qualified: string) => {
    const c = new Client({ connectionString: process.env.PLINTH_TEST_DATABASE_URL });
    await c.connect();
    await c.query(`BEGIN; LOCK TABLE ${qualified} IN ACCESS EXCLUSIVE MODE`);
    return {
      release: async () => {
        await c.query('COMMIT');
        await c.end();
      },
    };
  };
  /** Tenant statements now waiting for a lock (only the hostile project's table is locked). */
  const blockedTenantStatements = async () =>
    (await t.sql.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND usename = 'plinth_tenant' AND wait_event_type = 'Lock'`)).rows[0]
      .n as number;
  const waitFor = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
    const until = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const get = (p: TestProject, key: string, path: string) => fetch(`${t.baseUrl}${rest(t, p.ref, path)}`, { headers: { apikey: key } });

  beforeAll(async () => {
    t = await bootTestApp({
      // A small pool so the attack's arithmetic is exact: each project may hold 2 of the 4 connections, 2 more of
      // its requests may wait (long enough to outlast the test's checks), the rest are refused.
      TENANT_POOL_MAX: '4',
      TENANT_PROJECT_MAX_SHARE: '2',
      TENANT_PROJECT_QUEUE: '2',
      TENANT_PROJECT_QUEUE_WAIT_MS: '30000',
      // The ceiling above the enterprise plan's 15 s, so the hostile project's blocked statements outlast the checks.
      DATA_STATEMENT_TIMEOUT_MS: '20000',
    });
    owner = await signup(t, 'noisy');
    await upgradeOrg(t, owner, 'enterprise');
    hostile = await createProject(t, owner, 'hostile');
    quiet = await createProject(t, owner, 'quiet');
    freeOwner = await signup(t, 'free-plan');
    free = await createProject(t, freeOwner, 'free');
    for (const [u, p] of [[owner, hostile], [owner, quiet], [freeOwner, free]] as const) {
      await declareTable(t, u, p, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'body', type: 'text' }] });
      await putRules(t, u, p, 'items', [{ role: 'anon', action: ['read'] }]);
      await t.sql.query(`INSERT INTO "t_${p.ref}".items VALUES (1, $1)`, [p.ref]);
    }
  });
  afterAll(() => t.close());

  it('a project whose statements all block holds only its share of the pool: another project still reads in well under 2 s, and requests past share + queue get 429 with Retry-After', async () => {
    const lock = await lockTable(`"t_${hostile.ref}".items`);
    let hostileCalls: Array<Promise<Response>> = [];
    try {
      // 7 at once: 2 take the project's share (and block on the lock), 2 wait in its queue, 3 are refused.
      hostileCalls = Array.from({ length: 7 }, () => get(hostile, hostile.secret, 'items?select=id'));
      await waitFor('the hostile share to block', async () => (await blockedTenantStatements()) >= 2);
      const settledEarly = await Promise.race([Promise.all(hostileCalls.map((c) => c.then((r) => r.status))), new Promise((r) => setTimeout(r, 500, 'pending'))]);
      expect(settledEarly).toBe('pending'); // the admitted and queued ones are still blocked

      const started = Date.now();
      const res = await get(quiet, quiet.secret, 'items?select=id,body');
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual([{ id: 1, body: quiet.ref }]);
      expect(elapsed).toBeLessThan(2000);
      // Still exactly 2 hostile statements on the database: the queue didn't take connections.
      expect(await blockedTenantStatements()).toBe(2);
    } finally {
      await lock.release();
    }
    const answers = await Promise.all(hostileCalls.map(async (c) => c.then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() }))));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      // On /rest/v1 in PostgREST's shape, like every error of the data runtime.
      expect(r.body).toMatchObject({ code: 'concurrency_limited', details: { max_concurrent: 2, max_waiting: 2 } });
    }
    // The admitted and the queued ones were served once the lock went.
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
  });

  it("an anonymous caller on the free plan gets the plan's 1 s statement timeout; its secret key gets 3 s", async () => {
    const lock = await lockTable(`"t_${free.ref}".items`);
    try {
      let started = Date.now();
      const anon = await get(free, free.publishable, 'items?select=id');
      const anonMs = Date.now() - started;
      expect(anon.status).toBe(500);
      expect(await anon.json()).toMatchObject({ code: '57014' });
      // Cancelled by its own 1 s timeout, far before the 3 s of the plan or the 20 s ceiling.
      expect(anonMs).toBeGreaterThanOrEqual(950);
      expect(anonMs).toBeLessThan(2500);

      started = Date.now();
      const secret = await get(free, free.secret, 'items?select=id');
      const secretMs = Date.now() - started;
      expect(secret.status).toBe(500);
      expect(await secret.json()).toMatchObject({ code: '57014' });
      expect(secretMs).toBeGreaterThanOrEqual(2950);
      expect(secretMs).toBeLessThan(10_000);
    } finally {
      await lock.release();
    }
  });

  describe("role confinement: a statement that switches to another project's data role", () => {
    let tenants: TenantDatabase;
    const target = (p: TestProject) => {
      const n = tenantNames(p.ref);
      return { ref: p.ref, cluster: 'default', schema: n.schema, dataRole: n.dataRole };
    };
    const countIn = async (p: TestProject, body: string) => (await t.sql.query(`SELECT count(*)::int AS n FROM "t_${p.ref}".items WHERE body = $1`, [body])).rows[0].n as number;
    beforeAll(async () => {
      tenants = t.app.get(TenantDatabase);
      // As the data runtime grants a declared table; the victim's is readable by its own data role only.
      for (const p of [hostile, quiet]) {
        expect((await t.sql.query(`SELECT has_table_privilege($1, $2, 'SELECT') AS ok`, [tenantNames(p.ref).dataRole, `"t_${p.ref}".items`])).rows[0].ok).toBe(true);
      }
    });

    it("can't read the other project's table in the next statement of the batch: the batch fails and returns nothing", async () => {
      const victim = tenantNames(quiet.ref);
      let rows: unknown;
      const attempt = tenants.run(
        target(hostile),
        [
          { text: `SELECT set_config('role', $1, true)`, values: [victim.dataRole] },
          { text: `SELECT id, body FROM "${victim.schema}".items`, values: [] },
        ],
        (r) => (rows = r.rows),
      );
      await expect(attempt).rejects.toMatchObject({ code: 'XX000', message: 'tenant transaction left its data role' });
      expect(rows).toBeUndefined();
    });

    it('a session-level switch (is_local false) is refused too, and the pooled connections are back to the login role', async () => {
      const victim = tenantNames(quiet.ref);
      await expect(
        tenants.run(target(hostile), [{ text: `SELECT set_config('role', $1, false)`, values: [victim.dataRole] }, { text: `SELECT body FROM "${victim.schema}".items`, values: [] }], (r) => r.rows),
      ).rejects.toMatchObject({ code: 'XX000' });
      const pool = tenants.pool('default');
      const clients = await Promise.all([1, 2, 3, 4].map(() => pool.connect()));
      try {
        for (const c of clients) expect((await c.query(`SELECT current_user AS u, current_setting('role') AS r`)).rows[0]).toEqual({ u: 'plinth_tenant', r: 'none' });
      } finally {
        clients.forEach((c) => c.release());
      }
    });

    it("a write whose own statement switched role is rolled back, not committed as the other project's role", async () => {
      const own = tenantNames(hostile.ref);
      const victim = tenantNames(quiet.ref);
      const write = {
        text: `WITH w AS (INSERT INTO "${own.schema}".items VALUES (77, 'switched') RETURNING id) SELECT set_config('role', $1, true) FROM w`,
        values: [victim.dataRole],
      };
      await expect(tenants.run(target(hostile), [write], (r) => r.rows)).rejects.toMatchObject({ code: 'XX000' });
      expect(await countIn(hostile, 'switched')).toBe(0);
    });

    it('through the callback executor (asDataRole) the switch is caught at COMMIT and the transaction rolled back', async () => {
      const own = tenantNames(hostile.ref);
      const victim = tenantNames(quiet.ref);
      await expect(
        tenants.asDataRole(target(hostile), async (c) => {
          await c.query(`INSERT INTO "${own.schema}".items VALUES (78, 'callback')`);
          await c.query(`SELECT set_config('role', $1, true)`, [victim.dataRole]);
        }),
      ).rejects.toMatchObject({ code: 'XX000' });
      expect(await countIn(hostile, 'callback')).toBe(0);
    });
  });
});
