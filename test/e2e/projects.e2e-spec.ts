import { ProjectRefs } from '@plinth/tenancy';
import { addMember, bootTestApp, createProject, signup, TestApp, upgradeOrg } from '../support/test-app';

describe('projects (/v1/orgs/:orgId/projects, /v1/projects/:ref)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  async function tenantObjects(ref: string) {
    const { rows } = await t.sql.query(
      `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1)::int AS schemas,
              (SELECT count(*) FROM pg_roles WHERE rolname IN ($2, $3, $5, $6))::int AS roles,
              (SELECT count(*) FROM control.projects WHERE ref = $4)::int AS rows`,
      [`t_${ref}`, `t_${ref}_owner`, `t_${ref}_data`, ref, `t_${ref}_auth`, `t_${ref}_storage`],
    );
    return rows[0] as { schemas: number; roles: number; rows: number };
  }

  it('creates a project with its schema, four NOLOGIN roles (owner, data, auth, storage) and keys shown once', async () => {
    const u = await signup(t);
    const res = await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: 'Shop' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Shop', status: 'active', cluster: 'default', endpoint: `${t.config.http.publicUrl}/p/${res.body.ref}` });
    expect(res.body.ref).toMatch(/^[a-z][a-z0-9]{11}$/);
    expect(res.body.keys.publishable).toMatch(/^pl_pk_/);
    expect(res.body.keys.secret).toMatch(/^pl_sk_/);
    expect(await tenantObjects(res.body.ref)).toEqual({ schemas: 1, roles: 4, rows: 1 });

    const { rows } = await t.sql.query(
      `SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolname`,
      [`t_${res.body.ref}_%`],
    );
    expect(rows).toEqual([
      { rolname: `t_${res.body.ref}_auth`, rolcanlogin: false },
      { rolname: `t_${res.body.ref}_data`, rolcanlogin: false },
      { rolname: `t_${res.body.ref}_owner`, rolcanlogin: false },
      { rolname: `t_${res.body.ref}_storage`, rolcanlogin: false },
    ]);
    const owner = await t.sql.query(`SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1`, [`t_${res.body.ref}`]);
    expect(owner.rows[0].owner).toBe(`t_${res.body.ref}_owner`);

    const got = await t.http().get(`/v1/projects/${res.body.ref}`).set(u.auth);
    expect(got.body).toMatchObject({ ref: res.body.ref, name: 'Shop' });
    expect(got.body.keys).toBeUndefined();
    const list = await t.http().get(`/v1/orgs/${u.orgId}/projects`).set(u.auth);
    expect(list.body.map((p: { ref: string }) => p.ref)).toEqual([res.body.ref]);
  });

  it('renames, and deletes idempotently: schema and roles dropped, keys revoked', async () => {
    const u = await signup(t);
    const p = await createProject(t, u);
    const renamed = await t.http().patch(`/v1/projects/${p.ref}`).set(u.auth).send({ name: 'New name' });
    expect(renamed.body.name).toBe('New name');

    expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(200);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(u.auth)).status).toBe(204);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(u.auth)).status).toBe(204);
    expect(await tenantObjects(p.ref)).toEqual({ schemas: 0, roles: 0, rows: 1 });
    const keys = await t.sql.query('SELECT count(*)::int AS n FROM control.api_keys WHERE project_id = $1 AND revoked_at IS NULL', [p.id]);
    expect(keys.rows[0].n).toBe(0);
    expect((await t.http().get(`/v1/projects/${p.ref}`).set(u.auth)).status).toBe(404);
    // The gateway no longer finds the project: its address answers 404, with its old key or any other.
    expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(404);
    expect((await t.http().get(`/v1/orgs/${u.orgId}/projects`).set(u.auth)).body).toEqual([]);
  });

  it('leaves nothing behind when provisioning fails half way', async () => {
    const ref = 'zzfail' + Math.random().toString(36).slice(2, 8).padEnd(6, '0');
    // An app whose ref generator hands out a ref whose schema name is taken, so the DDL fails after the roles were created.
    const failing = await bootTestApp({}, undefined, { overrides: [{ provide: ProjectRefs, useValue: { next: () => ref } }] });
    try {
      const u = await signup(failing);
      await failing.sql.query(`CREATE SCHEMA "t_${ref}"`);
      try {
        const res = await failing.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: 'doomed' });
        expect(res.status).toBe(500);
        expect(res.body.error.error_id).toMatch(/^[0-9a-f-]{36}$/);
      } finally {
        await failing.sql.query(`DROP SCHEMA "t_${ref}"`);
      }
    } finally {
      await failing.close();
    }
    expect(await tenantObjects(ref)).toEqual({ schemas: 0, roles: 0, rows: 0 });
    const audit = await t.sql.query(`SELECT count(*)::int AS n FROM control.audit_log WHERE target_id = $1`, [ref]);
    expect(audit.rows[0].n).toBe(0);
  });

  it('enforces roles: viewers read, developers create but do not delete, billing cannot create', async () => {
    const owner = await signup(t, 'owner');
    const viewer = await signup(t, 'viewer');
    const dev = await signup(t, 'dev');
    const billing = await signup(t, 'billing');
    await addMember(t, owner, viewer, 'viewer');
    await addMember(t, owner, dev, 'developer');
    await addMember(t, owner, billing, 'billing');
    const p = await createProject(t, owner);

    expect((await t.http().get(`/v1/projects/${p.ref}`).set(viewer.auth)).status).toBe(200);
    expect((await t.http().patch(`/v1/projects/${p.ref}`).set(viewer.auth).send({ name: 'x' })).status).toBe(403);
    expect((await t.http().post(`/v1/orgs/${owner.orgId}/projects`).set(billing.auth).send({ name: 'x' })).status).toBe(403);
    const devProject = await t.http().post(`/v1/orgs/${owner.orgId}/projects`).set(dev.auth).send({ name: 'dev-made' });
    expect(devProject.status).toBe(201);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(dev.auth)).status).toBe(403);
    expect((await t.http().get(`/v1/projects/${p.ref}`).set(owner.auth)).status).toBe(200);
  });

  it("holds an org to its plan's projects per org, also under concurrent creates, and frees a slot on delete", async () => {
    const u = await signup(t, 'plan-limit');
    const activeRows = async () =>
      (await t.sql.query('SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL', [u.orgId])).rows[0].n;
    // Schemas with no project row (other suites create projects in this database at the same time).
    const orphans = async () =>
      (await t.sql.query(`SELECT count(*)::int AS n FROM pg_namespace n WHERE n.nspname LIKE 't\\_%' AND NOT EXISTS (SELECT 1 FROM control.projects p WHERE p.schema_name = n.nspname)`)).rows[0].n;
    // Three creates at once on the free plan (2 per org): the org row lock lets exactly two through.
    const burst = await Promise.all([1, 2, 3].map((i) => t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: `p${i}` })));
    expect(burst.map((r) => r.status).sort()).toEqual([201, 201, 409]);
    const refused = burst.find((r) => r.status === 409)!;
    expect(refused.body.error).toMatchObject({ code: 'conflict', details: { limit: 'projects_per_org', max: 2, plan: 'free' } });
    expect(refused.body.error.message).toMatch(/Free plan allows 2 projects per organization/);
    expect(await activeRows()).toBe(2);
    const rows = await t.sql.query('SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1', [u.orgId]);
    expect(rows.rows[0].n).toBe(2);
    expect(await orphans()).toBe(0); // the refused create left nothing behind

    const [first] = burst.filter((r) => r.status === 201);
    expect((await t.http().delete(`/v1/projects/${first.body.ref}`).set(u.auth)).status).toBe(204);
    expect((await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: 'after delete' })).status).toBe(201);
    expect((await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: 'one too many' })).status).toBe(409);

    await upgradeOrg(t, u, 'pro'); // 100 per org: counts at once, from the creating transaction
    expect((await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: 'on pro' })).status).toBe(201);
    expect(await activeRows()).toBe(3);
  });

  it('rejects bad input with 4xx and creates nothing', async () => {
    const u = await signup(t);
    const count = async () => (await t.sql.query('SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1', [u.orgId])).rows[0].n;
    for (const body of [{}, { name: '' }, { name: 42 }, { name: 'a'.repeat(101) }, { name: 'ok', ref: 'chosen' }]) {
      const res = await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send(body);
      expect(res.status).toBe(400);
    }
    // SQL-looking names are just names: stored verbatim, never executed.
    const sqlish = await t.http().post(`/v1/orgs/${u.orgId}/projects`).set(u.auth).send({ name: `x"; DROP SCHEMA control CASCADE; --` });
    expect(sqlish.status).toBe(201);
    expect(sqlish.body.name).toBe(`x"; DROP SCHEMA control CASCADE; --`);
    expect(await count()).toBe(1);
    expect((await t.http().get(`/v1/projects/${"x';--"}`).set(u.auth)).status).toBe(404);
    expect((await t.http().get('/v1/projects/ABCDEFGHIJKL').set(u.auth)).status).toBe(404);
  });
});
