import { randomUUID } from 'node:crypto';
import { TenantDatabase } from '@plinth/database';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, upgradeOrg } from '../support/test-app';
import { declareTable, putRules, registerTestTokens, rest, signUserToken, supabase } from '../support/data';

/**
 * Tenant isolation in the data runtime: keys of one project never reach another's rows, same-named tables stay apart,
 * and interleaved requests of many tenants on a tenant pool of two connections never leak a role or a setting.
 */
describe('data runtime: isolation', () => {
  let t: TestApp;
  let u: TestUser;
  let other: TestUser;
  const projects: TestProject[] = [];

  beforeAll(async () => {
    t = await bootTestApp({ TENANT_POOL_MAX: '2' });
    registerTestTokens(t);
    u = await signup(t, 'iso-a');
    other = await signup(t, 'iso-b');
    await Promise.all([upgradeOrg(t, u), upgradeOrg(t, other)]); // three projects each
    for (let i = 0; i < 6; i++) {
      const owner = i % 2 ? other : u;
      const p = await createProject(t, owner, `iso-${i}`);
      projects.push(p);
      await declareTable(t, owner, p, {
        name: 'items',
        columns: [
          { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
          { name: 'project', type: 'text', nullable: false },
          { name: 'owner_id', type: 'uuid', default: 'auth.uid' },
          ...(i === 0 ? [{ name: 'only_in_a', type: 'text' }] : []),
        ],
      });
      await putRules(t, owner, p, 'items', [
        { role: 'anon', action: ['read', 'create'] },
        { role: 'authenticated', action: ['read', 'create'] },
      ]);
      await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.secret).send([{ project: p.ref }, { project: p.ref }]).expect(201);
    }
  });
  afterAll(() => t.close());

  it("project A's keys never see project B's rows; same-named tables stay separate", async () => {
    const [a, b] = projects;
    for (const key of [a.publishable, a.secret]) {
      expect((await t.http().get(rest(t, b.ref, 'items')).set('apikey', key)).status).toBe(401);
    }
    const aRows = await supabase(t, a.ref, a.secret).from('items').select('project,only_in_a');
    expect((aRows.data as Array<{ project: string }>).every((r) => r.project === a.ref)).toBe(true);
    const bRows = await supabase(t, b.ref, b.secret).from('items').select('project');
    expect((bRows.data as Array<{ project: string }>).every((r) => r.project === b.ref)).toBe(true);
    // B's catalog has no `only_in_a`; naming A's schema as a table is just an unknown table.
    expect((await t.http().get(rest(t, b.ref, 'items?select=only_in_a')).set('apikey', b.secret)).status).toBe(400);
    for (const name of [`t_${a.ref}.items`, encodeURIComponent(`"t_${a.ref}"."items"`), 'pg_roles', 'control.api_keys']) {
      expect((await t.http().get(rest(t, b.ref, name)).set('apikey', b.secret)).status).toBe(404);
    }
    // A's end-user token is refused on B.
    const token = await signUserToken(a.ref, randomUUID());
    expect((await t.http().get(rest(t, b.ref, 'items')).set('apikey', b.publishable).set('authorization', `Bearer ${token}`)).status).toBe(401);
    // The data role of B holds no privilege on A's schema, whatever SQL it might be tricked into.
    const priv = await t.sql.query(`SELECT has_schema_privilege($1, $2, 'USAGE') AS u`, [`t_${b.ref}_data`, `t_${a.ref}`]);
    expect(priv.rows[0].u).toBe(false);
  });

  it('interleaved requests of many tenants on a pool of 2 never leak role, user id or settings', async () => {
    const users = new Map(projects.map((p) => [p.ref, randomUUID()]));
    const tokens = new Map(await Promise.all(projects.map(async (p) => [p.ref, await signUserToken(p.ref, users.get(p.ref)!)] as const)));
    type Outcome = { ok: boolean; why?: string };
    const one = async (i: number): Promise<Outcome> => {
      const p = projects[Math.floor(i / 4) % projects.length];
      switch (i % 4) {
        case 0: {
          // Anonymous insert: owner_id must stay NULL, never a previous request's user id.
          const r = await t.http().post(rest(t, p.ref, 'items?select=project,owner_id')).set('apikey', p.publishable).set('prefer', 'return=representation').send({ project: p.ref });
          return { ok: r.status === 201 && r.body[0].owner_id === null && r.body[0].project === p.ref, why: `${r.status} ${JSON.stringify(r.body)}` };
        }
        case 1: {
          const r = await t
            .http()
            .post(rest(t, p.ref, 'items?select=project,owner_id'))
            .set('apikey', p.publishable)
            .set('authorization', `Bearer ${tokens.get(p.ref)}`)
            .set('prefer', 'return=representation')
            .send({ project: p.ref });
          return { ok: r.status === 201 && r.body[0].owner_id === users.get(p.ref), why: `${r.status} ${JSON.stringify(r.body)}` };
        }
        case 2: {
          const r = await t.http().get(rest(t, p.ref, 'items?select=project')).set('apikey', p.publishable);
          return { ok: r.status === 200 && r.body.length > 0 && r.body.every((x: { project: string }) => x.project === p.ref), why: `${r.status}` };
        }
        default: {
          // A failing statement (unique violation) in between: the rollback must leave the connection clean.
          const r = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.secret).send({ id: 1, project: p.ref });
          return { ok: r.status === 409, why: `${r.status}` };
        }
      }
    };
    const outcomes = await Promise.all(Array.from({ length: 240 }, (_, i) => one(i)));
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    // Every tenant's rows are still only its own.
    for (const p of projects) {
      const { rows } = await t.sql.query(`SELECT DISTINCT project FROM "t_${p.ref}".items`);
      expect(rows).toEqual([{ project: p.ref }]);
      const owners = await t.sql.query(`SELECT DISTINCT owner_id FROM "t_${p.ref}".items WHERE owner_id IS NOT NULL`);
      expect(owners.rows).toEqual([{ owner_id: users.get(p.ref) }]);
    }
    // The pooled connections themselves are back to the login role with no leftover settings.
    const pool = t.app.get(TenantDatabase).pool(t.config.database.clusterName);
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const c of clients) {
        const { rows } = await c.query(
          `SELECT current_user AS u, current_setting('role') AS role, coalesce(current_setting('plinth.auth_uid', true), '') AS uid, current_setting('statement_timeout') AS timeout`,
        );
        expect(rows[0]).toEqual({ u: 'plinth_tenant', role: 'none', uid: '', timeout: '0' });
      }
    } finally {
      clients.forEach((c) => c.release());
    }
  });
});
