import { statementName, TenantDatabase } from '@plinth/database';
import { tenantNames } from '@plinth/tenancy';
import { bootTestApp, createProject, signup, TestApp, TestProject, upgradeOrg } from '../support/test-app';

/**
 * The tenant executor on one pooled connection, so every call meets what the previous one left. Prepared statements
 * (TENANT_STATEMENT_CACHE): bounded per connection, re-planned after DDL, of no use to another tenant. Pipelined
 * transactions (`run`): BEGIN, statements and COMMIT written together, still all-or-nothing.
 */
describe('tenant executor', () => {
  let t: TestApp;
  let pa: TestProject;
  let pb: TestProject;
  let tenants: TenantDatabase;
  const target = (p: TestProject) => {
    const n = tenantNames(p.ref);
    return { ref: p.ref, cluster: 'default', schema: n.schema, dataRole: n.dataRole };
  };
  /** One statement through `run`, the data runtime's path. */
  const exec = (p: TestProject, text: string, values: unknown[] = []) => tenants.run(target(p), [{ text, values }], (r) => r.rows);
  /**
   * The executor's statements the server holds on the pool's one connection, read on that connection outside the
   * executor (an unnamed query, so it adds none). Evictions are deallocated with the next BEGIN.
   */
  const onServer = async (): Promise<Array<{ name: string; at: string }>> => {
    const c = await tenants.pool('default').connect();
    try {
      const r = await c.query<{ name: string; at: string }>(`SELECT name, prepare_time::text AS at FROM pg_prepared_statements WHERE name LIKE 'pl\\_%' ORDER BY name`);
      return r.rows;
    } finally {
      c.release();
    }
  };
  const names = async () => (await onServer()).map((s) => s.name);

  beforeAll(async () => {
    t = await bootTestApp({ TENANT_STATEMENT_CACHE: '2', TENANT_POOL_MAX: '1', TENANT_POOL_MAX_USES: '0' });
    const u = await signup(t, 'prepared');
    await upgradeOrg(t, u, 'pro');
    pa = await createProject(t, u, 'A');
    pb = await createProject(t, u, 'B');
    tenants = t.app.get(TenantDatabase);
    for (const p of [pa, pb]) {
      const n = tenantNames(p.ref);
      await t.sql.query(`SET ROLE "${n.ownerRole}"; CREATE TABLE "${n.schema}".notes (id int PRIMARY KEY, body text);
        INSERT INTO "${n.schema}".notes VALUES (1, '${p.ref}'); GRANT SELECT, INSERT ON "${n.schema}".notes TO "${n.dataRole}"; RESET ROLE`);
    }
  });
  afterAll(() => t.close());

  it('sends a shape unnamed on its first use on a connection, prepares it on the second and reuses it', async () => {
    const n = tenantNames(pa.ref);
    const text = `SELECT body FROM "${n.schema}".notes WHERE id = $1`;
    expect(await exec(pa, text, [1])).toEqual([{ body: pa.ref }]);
    expect(await names()).not.toContain(statementName(text)); // used once: nothing kept on the connection
    expect(await exec(pa, text, [1])).toEqual([{ body: pa.ref }]);
    const first = await onServer();
    expect(first.map((s) => s.name)).toEqual([statementName(text)]);
    expect(await exec(pa, text, [1])).toEqual([{ body: pa.ref }]);
    expect(await onServer()).toEqual(first); // same statement, same prepare time: not parsed again
  });

  it('never prepares a shape used only once in a while (one per tenant among thousands)', async () => {
    const n = tenantNames(pa.ref);
    // More distinct shapes than the connection remembers (4 × TENANT_STATEMENT_CACHE = 8), each back only after them.
    const texts = Array.from({ length: 10 }, (_, k) => `SELECT body, ${k} AS cold FROM "${n.schema}".notes WHERE id = $1`);
    for (let round = 0; round < 2; round++) for (const text of texts) expect(await exec(pa, text, [1])).toHaveLength(1);
    const kept = await names();
    for (const text of texts) expect(kept).not.toContain(statementName(text));
  });

  it('keeps at most TENANT_STATEMENT_CACHE statements on a connection, deallocating the least recently used', async () => {
    const n = tenantNames(pa.ref);
    const texts = [1, 2, 3, 4, 5].map((k) => `SELECT body, ${k} AS k FROM "${n.schema}".notes WHERE id = $1`);
    // Each used twice in a row: prepared on the second use.
    for (const text of texts) for (let i = 0; i < 2; i++) expect(await exec(pa, text, [1])).toHaveLength(1);
    // The last eviction goes out with the next BEGIN: then only the two most recent are left.
    await exec(pa, texts[4], [1]);
    expect(await names()).toEqual([statementName(texts[3]), statementName(texts[4])].sort());
    // An evicted shape comes back: sent unnamed, then parsed again, and still answers.
    expect(await exec(pa, texts[0], [1])).toEqual([{ body: pa.ref, k: 1 }]);
    expect(await exec(pa, texts[0], [1])).toEqual([{ body: pa.ref, k: 1 }]);
    await exec(pa, texts[0], [1]);
    expect(await names()).toEqual([statementName(texts[4]), statementName(texts[0])].sort());
  });

  it('a statement that failed to parse is forgotten, not deallocated (which would break the next BEGIN)', async () => {
    const n = tenantNames(pa.ref);
    for (const column of ['nope', 'nope2', 'nope3']) {
      // Twice each: the second use is the one sent as a named statement, whose Parse fails.
      for (let i = 0; i < 2; i++) await expect(exec(pa, `SELECT ${column} FROM "${n.schema}".notes`)).rejects.toMatchObject({ code: '42703' });
    }
    expect(await exec(pa, `SELECT body FROM "${n.schema}".notes WHERE id = $1`, [1])).toEqual([{ body: pa.ref }]);
    expect(await exec(pa, `SELECT body FROM "${n.schema}".notes WHERE id = $1`, [1])).toEqual([{ body: pa.ref }]);
  });

  it('is planned again after the table changes', async () => {
    const n = tenantNames(pa.ref);
    const text = `SELECT row_to_json(x)::text AS j FROM (SELECT * FROM "${n.schema}".notes WHERE id = $1) x`;
    expect((await exec(pa, text, [1]))[0].j).toBe(JSON.stringify({ id: 1, body: pa.ref }));
    await t.sql.query(`SET ROLE "${n.ownerRole}"; ALTER TABLE "${n.schema}".notes ADD COLUMN extra int DEFAULT 7; RESET ROLE`);
    expect((await exec(pa, text, [1]))[0].j).toBe(JSON.stringify({ id: 1, body: pa.ref, extra: 7 }));
  });

  it("a statement prepared for tenant A is refused when run as tenant B's role on the same connection", async () => {
    const na = tenantNames(pa.ref);
    const text = `SELECT body FROM "${na.schema}".notes WHERE id = $1`;
    expect(await exec(pa, text, [1])).toEqual([{ body: pa.ref }]);
    expect(await exec(pa, text, [1])).toEqual([{ body: pa.ref }]);
    const prepared = (await onServer()).find((s) => s.name === statementName(text));
    expect(prepared).toBeDefined();
    // Same connection (pool of one), same statement, not parsed again: privileges are checked at execution, as B.
    await expect(exec(pb, text, [1])).rejects.toMatchObject({ code: '42501' });
    expect((await onServer()).find((s) => s.name === statementName(text))).toEqual(prepared);
    const nb = tenantNames(pb.ref);
    expect(await exec(pb, `SELECT body FROM "${nb.schema}".notes WHERE id = $1`, [1])).toEqual([{ body: pb.ref }]);
  });

  describe('pipelined transactions', () => {
    const count = async (p: TestProject, body: string) =>
      (await t.sql.query(`SELECT count(*)::int AS n FROM "${tenantNames(p.ref).schema}".notes WHERE body = $1`, [body])).rows[0].n as number;
    const insert = (p: TestProject, id: number, body: string) => ({ text: `INSERT INTO "${tenantNames(p.ref).schema}".notes VALUES ($1, $2) RETURNING id`, values: [id, body] });

    it('runs every statement in one transaction as the data role and commits', async () => {
      const r = await tenants.run(
        target(pa),
        [{ text: `SELECT set_config('plinth.test', $1, true)`, values: ['seen'] }, insert(pa, 100, 'committed'), { text: `SELECT current_user AS u, current_setting('plinth.test') AS s`, values: [] }],
        (res) => res.rows[0],
      );
      expect(r).toEqual({ u: tenantNames(pa.ref).dataRole, s: 'seen' });
      expect(await count(pa, 'committed')).toBe(1);
    });

    it('a failing statement rolls back the statements before it, and the connection is clean for the next caller', async () => {
      await expect(tenants.run(target(pa), [insert(pa, 101, 'lost'), insert(pa, 100, 'duplicate key')], () => 'never')).rejects.toMatchObject({ code: '23505' });
      expect(await count(pa, 'lost')).toBe(0);
      // Same (only) connection: no transaction, setting or role left over.
      const after = await tenants.run(target(pb), [{ text: `SELECT current_user AS u, current_setting('plinth.test', true) AS s`, values: [] }], (res) => res.rows[0]);
      expect(after).toEqual({ u: tenantNames(pb.ref).dataRole, s: '' });
    });

    it('with confirm, a refusal from finish rolls the write back; without, it is already committed', async () => {
      await expect(
        tenants.run(target(pa), [insert(pa, 102, 'refused')], () => {
          throw new Error('not one row');
        }, { confirm: true }),
      ).rejects.toThrow('not one row');
      expect(await count(pa, 'refused')).toBe(0);
      expect(await tenants.run(target(pa), [insert(pa, 103, 'accepted')], (res) => res.rows[0].id, { confirm: true })).toBe(103);
      expect(await count(pa, 'accepted')).toBe(1);
    });

    it("statements behind a failed role switch are refused, not run as the pool's login role", async () => {
      const bogus = { ...target(pa), dataRole: 't_zzzz9999_data' };
      await expect(tenants.run(bogus, [insert(pa, 104, 'no role')], () => 'never')).rejects.toMatchObject({ code: '22023' });
      expect(await count(pa, 'no role')).toBe(0);
      expect(await tenants.run(target(pa), [{ text: 'SELECT current_user AS u', values: [] }], (res) => res.rows[0].u)).toBe(tenantNames(pa.ref).dataRole);
    });

    it('one tenant cannot reach another through a pipelined statement', async () => {
      const nb = tenantNames(pb.ref);
      await expect(tenants.run(target(pa), [{ text: `SELECT body FROM "${nb.schema}".notes`, values: [] }], (r) => r.rows)).rejects.toMatchObject({ code: '42501' });
      await expect(tenants.run(target(pa), [{ text: `INSERT INTO "${nb.schema}".notes VALUES (9, 'x')`, values: [] }], (r) => r.rows)).rejects.toMatchObject({ code: '42501' });
      expect(await count(pb, 'x')).toBe(0);
    });
  });
});
