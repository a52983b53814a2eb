import { TenantDatabase } from '@plinth/database';
import { tenantNames } from '@plinth/tenancy';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';

describe('tenant isolation', () => {
  let t: TestApp;
  let a: TestUser;
  let b: TestUser;
  let pa: TestProject;
  let pb: TestProject;
  beforeAll(async () => {
    t = await bootTestApp();
    a = await signup(t, 'tenant-a');
    b = await signup(t, 'tenant-b');
    pa = await createProject(t, a, 'A');
    pb = await createProject(t, b, 'B');
  });
  afterAll(() => t.close());

  it("a member of org A can't see, change or delete org B's projects, keys or audit log", async () => {
    const bKeys = (await t.http().get(`/v1/projects/${pb.ref}/keys`).set(b.auth)).body as Array<{ id: string }>;
    const attempts: Array<[string, string, object | undefined]> = [
      ['get', `/v1/projects/${pb.ref}`, undefined],
      ['patch', `/v1/projects/${pb.ref}`, { name: 'owned' }],
      ['delete', `/v1/projects/${pb.ref}`, undefined],
      ['get', `/v1/projects/${pb.ref}/keys`, undefined],
      ['post', `/v1/projects/${pb.ref}/keys`, { type: 'secret', name: 'mine now' }],
      ['delete', `/v1/projects/${pb.ref}/keys/${bKeys[0].id}`, undefined],
      ['post', `/v1/projects/${pb.ref}/keys/${bKeys[1].id}/rotate`, {}],
      ['get', `/v1/orgs/${b.orgId}/projects`, undefined],
      ['get', `/v1/orgs/${b.orgId}/audit-log`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      const res = await (t.http() as unknown as Record<string, (p: string) => import('supertest').Test>)[method](path).set(a.auth).send(body);
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    // A's own key ids don't work under B's project either.
    const aKeys = (await t.http().get(`/v1/projects/${pa.ref}/keys`).set(a.auth)).body as Array<{ id: string }>;
    expect((await t.http().delete(`/v1/projects/${pb.ref}/keys/${aKeys[0].id}`).set(b.auth)).status).toBe(404);
    // Nothing changed for B.
    const after = await t.http().get(`/v1/projects/${pb.ref}`).set(b.auth);
    expect(after.body.name).toBe('B');
    expect((await t.http().get(`/p/${pb.ref}/rest/v1/`).set('apikey', pb.secret)).status).toBe(200);
    const keyCount = await t.sql.query('SELECT count(*)::int AS n FROM control.api_keys WHERE project_id = $1', [pb.id]);
    expect(keyCount.rows[0].n).toBe(2);
  });

  it("project A's keys get 401 on /p/<B>", async () => {
    for (const key of [pa.publishable, pa.secret]) {
      expect((await t.http().get(`/p/${pb.ref}/rest/v1/`).set('apikey', key)).status).toBe(401);
      expect((await t.http().get(`/p/${pb.ref}/rest/v1/`).set('authorization', `Bearer ${key}`)).status).toBe(401);
    }
  });

  it("project A's data role can't read or write t_<B>, the control schema, or create objects", async () => {
    const nb = tenantNames(pb.ref);
    const na = tenantNames(pa.ref);
    // Give B a table its own data role may use, as the data runtime will.
    await t.sql.query(`SET ROLE "${nb.ownerRole}"; CREATE TABLE "${nb.schema}".secrets (id int primary key, v text);
      INSERT INTO "${nb.schema}".secrets VALUES (1, 'b-only'); GRANT SELECT, INSERT ON "${nb.schema}".secrets TO "${nb.dataRole}"; RESET ROLE`);
    const tenants = t.app.get(TenantDatabase);
    const asA = (sql: string) =>
      tenants.asDataRole({ ref: pa.ref, cluster: 'default', schema: na.schema, dataRole: na.dataRole }, (c) => c.query(sql));
    const asB = (sql: string) =>
      tenants.asDataRole({ ref: pb.ref, cluster: 'default', schema: nb.schema, dataRole: nb.dataRole }, (c) => c.query(sql));

    expect((await asB(`SELECT v FROM "${nb.schema}".secrets`)).rows).toEqual([{ v: 'b-only' }]);
    await expect(asA(`SELECT v FROM "${nb.schema}".secrets`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`INSERT INTO "${nb.schema}".secrets VALUES (2, 'x')`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`SELECT * FROM control.api_keys`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`SELECT * FROM control.users`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`CREATE TABLE "${na.schema}".sneaky (id int)`)).rejects.toMatchObject({ code: '42501' });
    // Tenant pools log in as a role that can only become data roles: no way back to control data.
    await expect(asA(`SET ROLE postgres`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`RESET ROLE; SELECT * FROM control.users`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`RESET ROLE; SELECT * FROM "${nb.schema}".secrets`)).rejects.toMatchObject({ code: '42501' });
    await expect(asA(`SET ROLE "${nb.ownerRole}"`)).rejects.toMatchObject({ code: '42501' });
    // Even B's data role can't reach B's owner powers (DDL).
    await expect(asB(`DROP TABLE "${nb.schema}".secrets`)).rejects.toMatchObject({ code: '42501' });
    expect((await t.sql.query(`SELECT count(*)::int AS n FROM "${nb.schema}".secrets`)).rows[0].n).toBe(1);
  });

  it('never leaks the role from one pooled transaction into the next', async () => {
    const na = tenantNames(pa.ref);
    const nb = tenantNames(pb.ref);
    const tenants = t.app.get(TenantDatabase);
    const pool = tenants.pool('default');
    const roles = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const n = i % 2 ? na : nb;
        return tenants.asDataRole({ ref: '', cluster: 'default', schema: n.schema, dataRole: n.dataRole }, async (c) => {
          const r = await c.query('SELECT current_user AS u');
          return [n.dataRole, r.rows[0].u];
        });
      }),
    );
    for (const [expected, actual] of roles) expect(actual).toBe(expected);
    const c = await pool.connect();
    try {
      expect((await c.query('SELECT current_user AS u')).rows[0].u).not.toMatch(/^t_/);
    } finally {
      c.release();
    }
  });
});
