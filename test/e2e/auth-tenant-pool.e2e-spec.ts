import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { TenantDatabase, TenantTarget } from '@plinth/database';
import { TenantAuthRole1764000700000 } from '../../libs/database/src/migrations/1764000700000-tenant-auth-role';
import { tenantNames } from '@plinth/tenancy';
import { declareTable } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const PASSWORD = 'Sup3r-secret-pass';
const AUTH_TABLES = ['_auth_users', '_auth_identities', '_auth_sessions', '_auth_refresh_tokens', '_auth_codes'];

/**
 * The auth runtime works on the tenant pool (login role `plinth_tenant`) as the project's auth role `t_<ref>_auth`,
 * which holds row access to the project's auth tables and nothing else; never on the control pool as the control role.
 */
describe('auth runtime on the tenant pool (t_<ref>_auth)', () => {
  let t: TestApp;
  let owner: TestUser;
  let a: TestProject;
  let b: TestProject;

  const authPath = (p: TestProject, path: string) => `/p/${p.ref}/auth/v1${path}`;
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
  };
  /** Runs `sql` as `role` in a rolled-back transaction of the superuser connection; the error's SQLSTATE, or 'ok'. */
  const as = async (role: string, sql: string): Promise<string> => {
    await t.sql.query('BEGIN');
    try {
      await t.sql.query(`SET LOCAL ROLE "${role}"`);
      await t.sql.query(sql);
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    } finally {
      await t.sql.query('ROLLBACK');
    }
  };
  const roleExists = async (role: string) => (await t.sql.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;

  beforeAll(async () => {
    t = await bootTestApp({ LOG_LEVEL: 'silent' });
    owner = await signup(t, 'authpool');
    await upgradeOrg(t, owner);
    a = await createProject(t, owner, 'authpool-a');
    b = await createProject(t, owner, 'authpool-b');
    const relaxed = {
      sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
      emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
    };
    await patchConfig(a, { email_confirm_required: false, rate_limits: relaxed });
    await declareTable(t, owner, a, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'name', type: 'text' }] });
  });
  afterAll(() => t?.close());

  it('sign-up, refresh and OTP write the auth tables from the tenant pool (session user plinth_tenant) as t_<ref>_auth', async () => {
    const n = tenantNames(a.ref);
    // A probe trigger, created by the superuser, records who writes each auth table.
    await t.sql.query(`
      CREATE TABLE IF NOT EXISTS public.auth_probe (tbl text, cur text, sess text);
      GRANT INSERT ON public.auth_probe TO PUBLIC;
      CREATE OR REPLACE FUNCTION public.auth_probe() RETURNS trigger LANGUAGE plpgsql SECURITY INVOKER AS $$
        BEGIN INSERT INTO public.auth_probe VALUES (TG_TABLE_NAME, current_user, session_user); RETURN NULL; END $$;
      CREATE TRIGGER probe AFTER INSERT ON "${n.schema}"._auth_users FOR EACH ROW EXECUTE FUNCTION public.auth_probe();
      CREATE TRIGGER probe AFTER INSERT ON "${n.schema}"._auth_refresh_tokens FOR EACH ROW EXECUTE FUNCTION public.auth_probe();
      CREATE TRIGGER probe AFTER INSERT ON "${n.schema}"._auth_codes FOR EACH ROW EXECUTE FUNCTION public.auth_probe();
    `);
    try {
      const email = uniqueEmail('pool');
      const up = await t.http().post(authPath(a, '/signup')).set('apikey', a.publishable).send({ email, password: PASSWORD });
      expect(up.status).toBe(200);
      const refreshed = await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: up.body.refresh_token });
      expect(refreshed.status).toBe(200);
      expect((await t.http().post(authPath(a, '/otp')).set('apikey', a.publishable).send({ email })).status).toBe(200);

      const { rows } = await t.sql.query<{ tbl: string; cur: string; sess: string }>('SELECT DISTINCT tbl, cur, sess FROM public.auth_probe ORDER BY tbl');
      expect(rows).toEqual([
        { tbl: '_auth_codes', cur: n.authRole, sess: 'plinth_tenant' },
        { tbl: '_auth_refresh_tokens', cur: n.authRole, sess: 'plinth_tenant' },
        { tbl: '_auth_users', cur: n.authRole, sess: 'plinth_tenant' },
      ]);
      // The code's email is still enqueued (on the control plane, after the code's transaction committed).
      const outbox = await t.sql.query(`SELECT 1 FROM control.outbox WHERE data->>'ref' = $1 AND data->>'to' = $2`, [a.ref, email]);
      expect(outbox.rowCount).toBe(1);
    } finally {
      await t.sql.query(`DROP TABLE public.auth_probe; DROP FUNCTION public.auth_probe() CASCADE`);
    }
  });

  /** Two exchanges of one refresh token, both queued behind a lock on the token's row, released together. */
  const racedExchanges = async (refreshToken: string) => {
    const n = tenantNames(a.ref);
    const exchange = () => t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: refreshToken });
    await t.sql.query('BEGIN');
    let answers: Array<{ status: number; body: Record<string, string> }>;
    try {
      await t.sql.query(`SELECT 1 FROM "${n.schema}"._auth_refresh_tokens WHERE token_hash = $1 FOR UPDATE`, [createHash('sha256').update(refreshToken).digest('hex')]);
      const pending = Promise.all([exchange(), exchange()]);
      const deadline = Date.now() + 15_000;
      for (;;) {
        await t.sql.query('SELECT pg_stat_clear_snapshot()');
        const waiting = await t.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND usename = 'plinth_tenant' AND wait_event_type = 'Lock'`);
        if (waiting.rowCount === 2) break;
        if (Date.now() > deadline) throw new Error('the exchanges never queued on the lock');
        await new Promise((r) => setTimeout(r, 20));
      }
      await t.sql.query('COMMIT');
      answers = await pending;
    } catch (e) {
      await t.sql.query('ROLLBACK');
      throw e;
    }
    return answers;
  };

  it('two exchanges of one refresh token queued on its row lock, within the reuse interval: both 200 with the same new token, and the session lives on', async () => {
    const up = await t.http().post(authPath(a, '/signup')).set('apikey', a.publishable).send({ email: uniqueEmail('tabs'), password: PASSWORD });
    expect(up.status).toBe(200);
    const answers = await racedExchanges(up.body.refresh_token);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    // The loser read the winner's token in a statement after the lock was released (a new snapshot).
    expect(answers[0].body.refresh_token).toBe(answers[1].body.refresh_token);
    expect((await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: answers[0].body.refresh_token })).status).toBe(200);
  });

  it('two exchanges of one refresh token queued on its row lock, reuse interval 0: one 200, one 400 refresh_token_already_used, and the session is revoked', async () => {
    await patchConfig(a, { refresh_token_reuse_interval_seconds: 0 });
    const up = await t.http().post(authPath(a, '/signup')).set('apikey', a.publishable).send({ email: uniqueEmail('race'), password: PASSWORD });
    expect(up.status).toBe(200);
    const n = tenantNames(a.ref);
    const answers = await racedExchanges(up.body.refresh_token);
    await patchConfig(a, { refresh_token_reuse_interval_seconds: 10 });
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(answers.find((r) => r.status === 400)!.body.error_code).toBe('refresh_token_already_used');
    const sessions = await t.sql.query(`SELECT 1 FROM "${n.schema}"._auth_sessions WHERE user_id = $1`, [up.body.user.id]);
    expect(sessions.rowCount).toBe(0);
    const winner = answers.find((r) => r.status === 200)!;
    expect((await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: winner.body.refresh_token })).status).toBe(400);
  });

  it('t_<ref>_auth reads its own auth tables but gets permission denied (42501) on the declared table "items"', async () => {
    const n = tenantNames(a.ref);
    for (const table of AUTH_TABLES) expect(await as(n.authRole, `SELECT 1 FROM "${n.schema}"."${table}" LIMIT 1`)).toBe('ok');
    expect(await as(n.authRole, `SELECT * FROM "${n.schema}".items`)).toBe('42501');
    expect(await as(n.authRole, `INSERT INTO "${n.schema}".items (name) VALUES ('x')`)).toBe('42501');
    // Row access only: no DDL, no TRUNCATE, nothing created in the schema.
    expect(await as(n.authRole, `TRUNCATE "${n.schema}"._auth_users CASCADE`)).toBe('42501');
    expect(await as(n.authRole, `CREATE TABLE "${n.schema}".mine (id int)`)).toBe('42501');
    expect(await as(n.authRole, `ALTER TABLE "${n.schema}"._auth_users ADD COLUMN x int`)).toBe('42501');
  });

  it("t_<ref>_auth gets permission denied (42501) on another project's auth tables and on control tables", async () => {
    const na = tenantNames(a.ref);
    const nb = tenantNames(b.ref);
    for (const table of AUTH_TABLES) expect(await as(na.authRole, `SELECT 1 FROM "${nb.schema}"."${table}" LIMIT 1`)).toBe('42501');
    expect(await as(na.authRole, 'SELECT 1 FROM control.projects LIMIT 1')).toBe('42501');
    expect(await as(na.authRole, 'SELECT 1 FROM control.auth_signing_keys LIMIT 1')).toBe('42501');
  });

  it('the data role gets permission denied (42501) on the auth tables', async () => {
    const n = tenantNames(a.ref);
    for (const table of AUTH_TABLES) expect(await as(n.dataRole, `SELECT 1 FROM "${n.schema}"."${table}" LIMIT 1`)).toBe('42501');
  });

  it('plinth_tenant may switch into t_<ref>_auth but does not inherit its privileges; the role owns nothing', async () => {
    const n = tenantNames(a.ref);
    const { rows } = await t.sql.query(
      `SELECT pg_has_role('plinth_tenant', $1, 'MEMBER') AS member, pg_has_role('plinth_tenant', $1, 'USAGE') AS inherits,
              (SELECT rolcanlogin FROM pg_roles WHERE rolname = $1) AS login,
              (SELECT count(*)::int FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1) AS owns`,
      [n.authRole],
    );
    expect(rows[0]).toEqual({ member: true, inherits: false, login: false, owns: 0 });
  });

  it('the executor runs as t_<ref>_auth and aborts (XX000) a transaction that switched to another project\'s auth role', async () => {
    const tenants = t.app.get(TenantDatabase);
    const na = tenantNames(a.ref);
    const nb = tenantNames(b.ref);
    const target: TenantTarget = { ref: a.ref, cluster: t.config.database.clusterName, schema: na.schema, dataRole: na.dataRole };
    expect(await tenants.asRole(target, 'auth', async (c) => (await c.query('SELECT current_user AS u')).rows[0].u)).toBe(na.authRole);
    expect(await tenants.run(target, [{ text: 'SELECT current_user AS u', values: [] }], (r) => r.rows[0].u, { as: 'auth' })).toBe(na.authRole);
    const hijack = tenants.asRole(target, 'auth', async (c) => {
      await c.query(`SELECT set_config('role', '${nb.authRole}', true)`);
      await c.query(`INSERT INTO "${nb.schema}"._auth_users (id, email) VALUES (gen_random_uuid(), 'planted@example.com')`);
    });
    await expect(hijack).rejects.toMatchObject({ code: 'XX000' });
    expect((await t.sql.query(`SELECT count(*)::int AS n FROM "${nb.schema}"._auth_users WHERE email = 'planted@example.com'`)).rows[0].n).toBe(0);
  });

  it('deleting a project drops its auth role', async () => {
    const p = await createProject(t, owner, 'authpool-doomed');
    const n = tenantNames(p.ref);
    expect(await roleExists(n.authRole)).toBe(true);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(owner.auth)).status).toBe(204);
    expect(await roleExists(n.authRole)).toBe(false);
  });

  it('the migration gives a project provisioned before it its auth role and grants; idempotent; skips deleted projects', async () => {
    const old = await createProject(t, owner, 'authpool-old');
    const gone = await createProject(t, owner, 'authpool-gone');
    expect((await t.http().delete(`/v1/projects/${gone.ref}`).set(owner.auth)).status).toBe(204);
    const n = tenantNames(old.ref);
    // What a project provisioned before the migration looks like: no auth role, no grants to it.
    await t.sql.query(`DROP OWNED BY "${n.authRole}"; DROP ROLE "${n.authRole}"`);
    expect(await roleExists(n.authRole)).toBe(false);

    const runner = t.app.get(DataSource).createQueryRunner();
    try {
      await new TenantAuthRole1764000700000().up(runner);
      await new TenantAuthRole1764000700000().up(runner);
    } finally {
      await runner.release();
    }

    expect(await roleExists(n.authRole)).toBe(true);
    expect(await roleExists(tenantNames(gone.ref).authRole)).toBe(false);
    const grants = await t.sql.query<{ table_name: string; privileges: string }>(
      `SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privileges
         FROM information_schema.role_table_grants WHERE grantee = $1 GROUP BY table_name ORDER BY table_name`,
      [n.authRole],
    );
    expect(grants.rows).toEqual([...AUTH_TABLES].sort().map((table_name) => ({ table_name, privileges: 'DELETE,INSERT,SELECT,UPDATE' })));
    const { rows } = await t.sql.query(`SELECT pg_has_role('plinth_tenant', $1, 'MEMBER') AS member`, [n.authRole]);
    expect(rows[0].member).toBe(true);
    // And the project's auth works again.
    const up = await t.http().post(authPath(old, '/signup')).set('apikey', old.publishable).send({ email: uniqueEmail('old'), password: PASSWORD });
    expect(up.status).toBe(200);
  });
});

/**
 * The design's rule: tenant traffic can't starve the control plane, and the control plane's load doesn't stall
 * tenant traffic. With every connection of the control pool held, end users still sign in and refresh (project
 * settings, signing keys and API keys come from the runtime's caches, warmed just before).
 */
describe('auth runtime while the control pool is exhausted', () => {
  let t: TestApp;
  let p: TestProject;

  beforeAll(async () => {
    t = await bootTestApp({ LOG_LEVEL: 'silent', DATABASE_POOL_MAX: '3', KEY_CACHE_TTL_MS: '5000' });
    const owner = await signup(t, 'authpool-starved');
    p = await createProject(t, owner, 'starved');
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send({ email_confirm_required: false });
    if (res.status !== 200) throw new Error(`patch config: ${res.status}`);
  });
  afterAll(() => t?.close());

  it('password sign-in and refresh answer 200 while all DATABASE_POOL_MAX control connections are held', async () => {
    const email = uniqueEmail('starved');
    const path = (x: string) => `/p/${p.ref}/auth/v1${x}`;
    expect((await t.http().post(path('/signup')).set('apikey', p.publishable).send({ email, password: PASSWORD })).status).toBe(200);
    // Warm the caches the edge and the runtime read from the control plane (key, settings, signing key).
    expect((await t.http().post(path('/token?grant_type=password')).set('apikey', p.publishable).send({ email, password: PASSWORD })).status).toBe(200);

    const control = (t.app.get(DataSource).driver as unknown as { master: Pool }).master;
    const held: PoolClient[] = [];
    try {
      for (let i = 0; i < t.config.database.poolMax; i++) held.push(await control.connect());
      expect(control.totalCount).toBe(t.config.database.poolMax);
      expect(control.idleCount).toBe(0);
      const signIn = await t.http().post(path('/token?grant_type=password')).set('apikey', p.publishable).timeout(4000).send({ email, password: PASSWORD });
      expect(signIn.status).toBe(200);
      const refresh = await t.http().post(path('/token?grant_type=refresh_token')).set('apikey', p.publishable).timeout(4000).send({ refresh_token: signIn.body.refresh_token });
      expect(refresh.status).toBe(200);
    } finally {
      for (const c of held) c.release();
    }
  });
});
