import { addMember, bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, rest } from '../support/data';

/** The table catalog API: declarations, DDL in the tenant schema, grants, validation, changes, limits, access. */
describe('data runtime: table catalog (/v1/projects/:ref/tables)', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  const tables = (ref: string) => `/v1/projects/${ref}/tables`;

  beforeAll(async () => {
    t = await bootTestApp({ DATA_MAX_COLUMNS_PER_TABLE: '12' });
    u = await signup(t, 'catalog');
    p = await createProject(t, u, 'catalog');
  });
  afterAll(() => t.close());

  const authors = {
    name: 'authors',
    columns: [
      { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
      { name: 'name', type: 'text', nullable: false },
      { name: 'email', type: 'varchar(120)', unique: true },
      { name: 'created_at', type: 'timestamptz', default: 'now()' },
    ],
  };

  it('creates a table with keys, defaults, references and indexes, and describes it back', async () => {
    const created = await declareTable(t, u, p, authors);
    expect(created).toMatchObject({ name: 'authors', primary_key: ['id'], rules: [] });
    const res = await t
      .http()
      .post(tables(p.ref))
      .set(u.auth)
      .send({
        name: 'posts',
        columns: [
          { name: 'id', type: 'uuid', primary_key: true, default: 'gen_random_uuid()' },
          { name: 'author_id', type: 'int8', references: { table: 'authors', column: 'id', on_delete: 'cascade' } },
          { name: 'owner_id', type: 'uuid', default: 'auth.uid' },
          { name: 'title', type: 'text', nullable: false, default: 'untitled' },
          { name: 'tags', type: 'text[]', default: { value: ['new'] } },
          { name: 'meta', type: 'jsonb', default: { value: { a: 1 } } },
          { name: 'price', type: 'numeric(10,2)', default: 0 },
          { name: 'published', type: 'bool', default: false },
          { name: 'day', type: 'date' },
        ],
        indexes: [{ columns: ['author_id', 'day'] }, { name: 'posts_title_per_author', columns: ['title', 'author_id'], unique: true }],
      });
    expect(res.status).toBe(201);
    expect(res.body.columns[1]).toEqual({ name: 'author_id', type: 'int8', nullable: true, primary_key: false, unique: false, references: { table: 'authors', column: 'id', on_delete: 'cascade' } });
    expect(res.body.columns[2].default).toBe('auth.uid');
    expect(res.body.columns[4].default).toEqual({ value: ['new'] });
    expect(res.body.indexes).toEqual([
      { name: 'posts_author_id_day_idx', columns: ['author_id', 'day'], unique: false },
      { name: 'posts_title_per_author', columns: ['title', 'author_id'], unique: true },
    ]);

    const list = await t.http().get(tables(p.ref)).set(u.auth);
    expect(list.body.map((x: { name: string }) => x.name)).toEqual(['authors', 'posts']);
    expect((await t.http().get(`${tables(p.ref)}/posts`).set(u.auth)).body.name).toBe('posts');
    expect((await t.http().get(`${tables(p.ref)}/nope`).set(u.auth)).status).toBe(404);
  });

  it('creates the table in t_<ref>, owned by the owner role, with exactly the data role grants it needs', async () => {
    const schema = `t_${p.ref}`;
    const owner = await t.sql.query(`SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = 'posts'`, [schema]);
    expect(owner.rows[0].tableowner).toBe(`t_${p.ref}_owner`);
    const grants = await t.sql.query(
      `SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = $1 AND table_schema = $2 AND table_name = 'posts' ORDER BY 1`,
      [`t_${p.ref}_data`, schema],
    );
    expect(grants.rows.map((r) => r.privilege_type)).toEqual(['DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    const fk = await t.sql.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`, [`"${schema}".posts`]);
    expect(fk.rows.map((r) => r.conname)).toEqual(['posts_author_id_fkey']);
    // The data role can't create or alter anything.
    const c = await t.sql.query(`SELECT has_schema_privilege($1, $2, 'CREATE') AS c`, [`t_${p.ref}_data`, schema]);
    expect(c.rows[0].c).toBe(false);
  });

  it('refuses bad names, types, defaults and references with every problem listed, and changes nothing', async () => {
    const countTables = async () => (await t.sql.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [`t_${p.ref}`])).rows[0].n;
    const tablesBefore = await countTables();
    const bad = [
      { name: 'Bad-Name', columns: [{ name: 'id', type: 'int8' }] },
      { name: 'select', columns: [{ name: 'id', type: 'int8' }] },
      { name: 'pg_things', columns: [{ name: 'id', type: 'int8' }] },
      { name: 'x"; DROP TABLE authors; --', columns: [{ name: 'id', type: 'int8' }] },
      { name: 'ok_name', columns: [{ name: 'xmin', type: 'int8' }] },
      { name: 'ok_name', columns: [{ name: 'order', type: 'int8' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'int8); DROP TABLE authors; --' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'money' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'int4', default: 'abc' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text', default: 'now()' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'int4', default: 'gen_random_uuid()' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'int8', references: { table: 'missing', column: 'id' } }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text', references: { table: 'authors', column: 'id' } }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text', references: { table: 'authors', column: 'name' } }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text' }, { name: 'a', type: 'int4' }] },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text', sql: 'DROP' }] },
      { name: 'ok_name', columns: Array.from({ length: 13 }, (_, i) => ({ name: `c${i}`, type: 'text' })) },
      { name: 'ok_name', columns: [{ name: 'a', type: 'text' }], indexes: [{ columns: ['b'] }] },
    ];
    for (const body of bad) {
      const res = await t.http().post(tables(p.ref)).set(u.auth).send(body);
      expect([JSON.stringify(body).slice(0, 80), res.status, res.body.error?.code]).toEqual([JSON.stringify(body).slice(0, 80), 400, 'validation_failed']);
    }
    // Every problem at once, the schema's and the catalog's: a bad table name, a bad column name and a bad type.
    const many = await t.http().post(tables(p.ref)).set(u.auth).send({ name: 'Bad-Name', columns: [{ name: 'Bad Col', type: 'money' }] });
    expect(many.status).toBe(400);
    expect(many.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['columns.0.name', 'columns.0.type', 'name']);
    // A date literal PostgreSQL can't read is refused by the database inside the transaction: 400, nothing left.
    const date = await t.http().post(tables(p.ref)).set(u.auth).send({ name: 'ok_name', columns: [{ name: 'd', type: 'date', default: 'not a date' }] });
    expect(date.status).toBe(400);
    expect(await countTables()).toBe(tablesBefore);
    expect((await t.http().post(tables(p.ref)).set(u.auth).send(authors)).status).toBe(409);
  });

  it('patches: add, rename and drop columns, add and drop indexes; rules follow a rename', async () => {
    await declareTable(t, u, p, { name: 'notes', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'body', type: 'text' }] });
    await t.http().put(`${tables(p.ref)}/notes/rules`).set(u.auth).send([{ role: 'anon', action: 'read', where: { body: { $ne: 'x' } }, columns: ['id', 'body'] }]).expect(200);
    const add = await t
      .http()
      .patch(`${tables(p.ref)}/notes`)
      .set(u.auth)
      .send({ add_columns: [{ name: 'stars', type: 'int4', default: 0, nullable: false }, { name: 'tmp', type: 'text' }], add_indexes: [{ columns: ['stars'] }] });
    expect(add.status).toBe(200);
    expect(add.body.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'body', 'stars', 'tmp']);
    const ren = await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({ rename_columns: [{ from: 'body', to: 'text_body' }], drop_columns: ['tmp'], drop_indexes: ['notes_stars_idx'] });
    expect(ren.status).toBe(200);
    expect(ren.body.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'text_body', 'stars']);
    expect(ren.body.indexes).toEqual([]);
    expect(ren.body.rules).toEqual([{ role: 'anon', action: ['read'], where: { text_body: { $ne: 'x' } }, columns: ['id', 'text_body'] }]);
    const cols = await t.sql.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'notes' ORDER BY ordinal_position`, [`t_${p.ref}`]);
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'text_body', 'stars']);
    // The REST runtime sees the new catalog at once.
    const r = await t.http().get(rest(t, p.ref, 'notes?select=id,text_body')).set('apikey', p.secret);
    expect(r.status).toBe(200);
    // Refusals: a rule's column, the primary key, a referenced column, unknown things.
    expect((await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({ drop_columns: ['text_body'] })).status).toBe(400);
    expect((await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({ drop_columns: ['id'] })).status).toBe(400);
    expect((await t.http().patch(`${tables(p.ref)}/authors`).set(u.auth).send({ drop_columns: ['id'] })).status).toBe(400);
    expect((await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({ drop_indexes: ['nope_idx'] })).status).toBe(400);
    expect((await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({})).status).toBe(400);
  });

  it('adding a NOT NULL column without a default to a table with rows is a 409 and changes nothing', async () => {
    await t.http().post(rest(t, p.ref, 'notes')).set('apikey', p.secret).send({ text_body: 'hello' }).expect(201);
    const res = await t.http().patch(`${tables(p.ref)}/notes`).set(u.auth).send({ add_columns: [{ name: 'req', type: 'text', nullable: false }] });
    expect(res.status).toBe(409);
    expect((await t.http().get(`${tables(p.ref)}/notes`).set(u.auth)).body.columns).toHaveLength(3);
  });

  it('drops a table (not while another references it), and audits every change', async () => {
    expect((await t.http().delete(`${tables(p.ref)}/authors`).set(u.auth)).status).toBe(409);
    expect((await t.http().delete(`${tables(p.ref)}/notes`).set(u.auth)).status).toBe(204);
    expect((await t.http().get(`${tables(p.ref)}/notes`).set(u.auth)).status).toBe(404);
    const gone = await t.sql.query(`SELECT to_regclass($1) AS r`, [`"t_${p.ref}".notes`]);
    expect(gone.rows[0].r).toBeNull();
    const audit = await t.sql.query(`SELECT action FROM control.audit_log WHERE target_type = 'data_table' AND target_id LIKE $1 ORDER BY id`, [`${p.ref}.%`]);
    expect(audit.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['data_table.create', 'data_table.update', 'data_table.rules', 'data_table.delete']));
  });

  it("takes the project's secret key; refuses other keys, viewers (403) and non-members (404)", async () => {
    const body = { name: 'by_key', columns: [{ name: 'id', type: 'int4', primary_key: true }] };
    expect((await t.http().post(tables(p.ref)).set('apikey', p.secret).send(body)).status).toBe(201);
    expect((await t.http().get(tables(p.ref)).set('authorization', `Bearer ${p.secret}`)).status).toBe(200);
    expect((await t.http().get(tables(p.ref)).set('apikey', p.publishable)).status).toBe(401);
    const other = await createProject(t, u, 'other');
    expect((await t.http().get(tables(p.ref)).set('apikey', other.secret)).status).toBe(401);
    expect((await t.http().get(tables(p.ref))).status).toBe(401);

    const viewer = await signup(t, 'viewer');
    await addMember(t, u, viewer, 'viewer');
    expect((await t.http().get(tables(p.ref)).set(viewer.auth)).status).toBe(200);
    expect((await t.http().post(tables(p.ref)).set(viewer.auth).send({ ...body, name: 'by_viewer' })).status).toBe(403);
    const dev = await signup(t, 'dev');
    await addMember(t, u, dev, 'developer');
    expect((await t.http().post(tables(p.ref)).set(dev.auth).send({ ...body, name: 'by_dev' })).status).toBe(201);
    const stranger = await signup(t, 'stranger');
    expect((await t.http().get(tables(p.ref)).set(stranger.auth)).status).toBe(404);
    expect((await t.http().post(tables(p.ref)).set(stranger.auth).send({ ...body, name: 'by_stranger' })).status).toBe(404);
  });

  it("enforces the plan's table limit", async () => {
    await t.sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       SELECT 'two_tables', 'Two tables', false, 99, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits,
              limits || '{"tables_per_project": 2}'::jsonb FROM control.plans WHERE id = 'free'`,
    );
    const small = await signup(t, 'small');
    await t.sql.query(`INSERT INTO control.org_plans (org_id, plan_id, updated_at) VALUES ($1, 'two_tables', now())`, [small.orgId]);
    // A fresh app, so no plan is cached from before the insert.
    const t2 = await bootTestApp();
    try {
      const sp = await createProject(t2, small, 'small');
      const body = (name: string) => ({ name, columns: [{ name: 'id', type: 'int4', primary_key: true }] });
      expect((await t2.http().post(tables(sp.ref)).set(small.auth).send(body('a'))).status).toBe(201);
      expect((await t2.http().post(tables(sp.ref)).set(small.auth).send(body('b'))).status).toBe(201);
      const third = await t2.http().post(tables(sp.ref)).set(small.auth).send(body('c'));
      expect(third.status).toBe(409);
      expect(third.body.error.message).toMatch(/at most 2 tables/);
    } finally {
      await t2.close();
    }
  });
});
