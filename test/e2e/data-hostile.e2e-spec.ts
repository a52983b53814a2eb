import fc from 'fast-check';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest } from '../support/data';

/**
 * Hostile input against the running server: injection attempts in every position, unicode, huge lists, deep nesting,
 * giant bodies → 4xx, nothing changed, no other tenant touched. Then random query strings: never a 5xx.
 */
describe('data runtime: hostile input', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let victim: TestProject;

  async function fingerprint(): Promise<string> {
    const { rows } = await t.sql.query(
      `SELECT (SELECT string_agg(row_to_json(i)::text, '|' ORDER BY id) FROM "t_${p.ref}".items i) AS a,
              (SELECT string_agg(row_to_json(i)::text, '|' ORDER BY id) FROM "t_${victim.ref}".items i) AS b,
              (SELECT string_agg(table_schema || '.' || table_name, ',' ORDER BY 1) FROM information_schema.tables WHERE table_schema LIKE 't\\_%') AS tables,
              (SELECT count(*) FROM control.projects) AS projects`,
    );
    return JSON.stringify(rows[0]);
  }

  beforeAll(async () => {
    t = await bootTestApp({ BODY_LIMIT_BYTES: '65536' });
    u = await signup(t, 'hostile');
    p = await createProject(t, u, 'hostile');
    victim = await createProject(t, u, 'victim');
    for (const proj of [p, victim]) {
      await declareTable(t, u, proj, {
        name: 'items',
        columns: [
          { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
          { name: 'name', type: 'text', nullable: false },
          { name: 'qty', type: 'int4' },
          { name: 'data', type: 'jsonb' },
          { name: 'hidden', type: 'text' },
        ],
      });
      await putRules(t, u, proj, 'items', [{ role: 'anon', action: ['read', 'create', 'update', 'delete'], where: { qty: { $gte: 0 } }, columns: ['id', 'name', 'qty', 'data'] }]);
      await t.http().post(rest(t, proj.ref, 'items')).set('apikey', proj.secret).send([{ name: 'a', qty: 1, data: { k: 'v' } }, { name: 'b', qty: 2, hidden: 'h' }]).expect(201);
    }
  });
  afterAll(() => t.close());

  const INJECTIONS = [
    `'; DROP TABLE items; --`,
    `"; DROP TABLE items; --`,
    `items"; DROP SCHEMA public CASCADE; --`,
    `1) OR (1=1`,
    `x' OR '1'='1`,
    `$1`,
    `\\'; SELECT pg_sleep(5); --`,
    `name)); DELETE FROM items; --`,
    `t_${'a'.repeat(12)}.items`,
    `pg_catalog.pg_roles`,
    `../../control.users`,
    `ü🚀\u202e\u0000x`,
    `%00`,
  ];

  it('refuses injection in every position with a 4xx and changes nothing anywhere', async () => {
    const before = await fingerprint();
    const e = encodeURIComponent;
    const paths: string[] = [];
    for (const x of INJECTIONS) {
      paths.push(
        `${e(x)}`, // table
        `items?select=${e(x)}`, // column
        `items?select=id,${e(x)}:name`, // select alias
        `items?select=name::${e(x)}`, // cast
        `items?select=data->${e(x)}`, // JSON path (becomes a bound key, so 200 with nulls is fine)
        `items?${e(x)}=eq.1`, // filter column
        `items?name=${e(x)}.1`, // operator
        `items?name=eq.${e(x)}`, // value
        `items?qty=in.(${e(x)})`,
        `items?or=(${e(x)})`,
        `items?order=${e(x)}`,
        `items?order=name.${e(x)}`,
        `items?limit=${e(x)}`,
        `items?data->>${e(x)}=eq.1`,
        `items?select=*,${e(x)}(*)`,
      );
    }
    for (const path of paths) {
      const res = await t.http().get(rest(t, p.ref, path)).set('apikey', p.publishable);
      expect([path, res.status < 500]).toEqual([path, true]);
      if (res.status >= 400) expect(Object.keys(res.body).sort()).toEqual(['code', 'details', 'hint', 'message']);
    }
    for (const x of INJECTIONS) {
      for (const [method, path, body] of [
        ['post', `items?on_conflict=${e(x)}`, { name: 'z' }],
        ['post', `items?columns=${e(x)}`, { name: 'z' }],
        ['post', 'items', { [x]: 1 }],
        ['post', 'items', { name: 'ok', qty: x }],
        ['patch', `items?name=eq.${e(x)}`, { name: x }],
        ['patch', `items?id=eq.1`, { [x]: 'v' }],
        ['delete', `items?${e(x)}=eq.1`, undefined],
        ['delete', `items?id=eq.${e(x)}`, undefined],
      ] as const) {
        const res = await (t.http() as unknown as Record<string, (u: string) => import('supertest').Test>)[method](rest(t, p.ref, path))
          .set('apikey', p.publishable)
          .set('prefer', 'resolution=merge-duplicates')
          .send(body as object);
        expect([method, path, res.status < 500]).toEqual([method, path, true]);
      }
    }
    expect(await fingerprint()).toBe(before);
  });

  it('stores hostile strings as data, byte for byte', async () => {
    for (const x of INJECTIONS.filter((s) => !s.includes('\u0000'))) {
      const res = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).set('prefer', 'return=representation').send({ name: x, qty: 0 });
      expect(res.status).toBe(201);
      expect(res.body[0].name).toBe(x);
      const back = await t.http().get(rest(t, p.ref, `items?select=name&name=eq.${encodeURIComponent(x)}`)).set('apikey', p.publishable);
      expect(back.body).toContainEqual({ name: x });
    }
    const nul = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).send({ name: 'a\u0000b', qty: 0 });
    expect(nul.status).toBe(400);
    await t.sql.query(`DELETE FROM "t_${p.ref}".items WHERE id > 2`);
  });

  it('bounds huge in-lists, deep or-nesting, long query strings, wide selects and giant bodies with 4xx', async () => {
    const before = await fingerprint();
    const huge = Array.from({ length: 5000 }, (_, i) => i).join(',');
    let deep = 'qty.eq.1';
    for (let i = 0; i < 40; i++) deep = `or(${deep},qty.eq.${i})`;
    const cases = [
      `items?qty=in.(${huge})`,
      `items?or=(${deep.slice(3, -1)})`,
      `items?select=${Array.from({ length: 500 }, () => 'name').join(',')}`,
      `items?name=eq.${'x'.repeat(20_000)}`,
      `items?select=*,items(*,items(*,items(*,items(*,items(*,items(*))))))`,
      `items?limit=99999999999999999999`,
    ];
    for (const path of cases) {
      const res = await t.http().get(rest(t, p.ref, path)).set('apikey', p.publishable);
      expect([path.slice(0, 60), res.status >= 400 && res.status < 500]).toEqual([path.slice(0, 60), true]);
    }
    const giant = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).send({ name: 'x'.repeat(100_000), qty: 1 });
    expect(giant.status).toBe(413);
    const manyRows = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).send(Array.from({ length: 1500 }, () => ({ name: 'r', qty: 1 })));
    expect(manyRows.status).toBe(400);
    const notJson = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).set('content-type', 'application/json').send('{"name": ');
    expect(notJson.status).toBe(400);
    const scalar = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.publishable).set('content-type', 'application/json').send('42');
    expect(scalar.status).toBe(400);
    expect(await fingerprint()).toBe(before);
  });

  it('answers random query strings with anything but a 5xx (property test against the running server)', async () => {
    const COLUMNS = ['id', 'name', 'qty', 'data', 'hidden', 'nope', 'data->k', 'data->>k', '*'];
    const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'in', 'is', 'cs', 'cd', 'ov', 'not.eq', 'not.in', 'fts', 'bogus'];
    const VALUES = ['1', '-1', 'a', '%', 'null', 'true', '(1,2)', '("a,b")', '{a}', '{"k":1}', '', "'", '"', '\\', '9999999999999999999', 'ü', '1e400'];
    const token = fc.oneof(
      fc.tuple(fc.constantFrom(...COLUMNS), fc.constantFrom(...OPS), fc.constantFrom(...VALUES)).map(([c, o, v]) => `${encodeURIComponent(c)}=${o}.${encodeURIComponent(v)}`),
      fc.array(fc.constantFrom(...COLUMNS), { minLength: 1, maxLength: 4 }).map((cs) => `select=${encodeURIComponent(cs.join(','))}`),
      fc.tuple(fc.constantFrom(...COLUMNS), fc.constantFrom('', '.asc', '.desc', '.nullsfirst', '.desc.nullslast', '.sideways')).map(([c, d]) => `order=${encodeURIComponent(c + d)}`),
      fc.tuple(fc.constantFrom('or', 'and', 'not.or'), fc.array(fc.tuple(fc.constantFrom(...COLUMNS), fc.constantFrom(...OPS), fc.constantFrom(...VALUES)), { minLength: 1, maxLength: 3 })).map(
        ([l, xs]) => `${l}=${encodeURIComponent(`(${xs.map(([c, o, v]) => `${c}.${o}.${v}`).join(',')})`)}`,
      ),
      fc.tuple(fc.constantFrom('limit', 'offset'), fc.oneof(fc.nat(), fc.string())).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`),
      fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
      fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    );
    const request = fc.record({
      method: fc.constantFrom('get', 'get', 'get', 'head', 'patch', 'delete'),
      query: fc.array(token, { maxLength: 6 }),
      key: fc.constantFrom('publishable', 'secret'),
      prefer: fc.constantFrom(undefined, 'count=exact', 'count=planned', 'count=estimated', 'return=representation', 'bogus=1'),
      accept: fc.constantFrom(undefined, 'application/json', 'application/vnd.pgrst.object+json', 'text/csv'),
    });
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const key = r.key === 'secret' ? p.secret : p.publishable;
        // Writes only through the publishable key with a filter-less-safe body, so the fuzz can't wipe the table.
        const req = (t.http() as unknown as Record<string, (u: string) => import('supertest').Test>)[r.method](rest(t, p.ref, `items?${r.query.join('&')}`)).set('apikey', r.method === 'get' || r.method === 'head' ? key : p.publishable);
        if (r.prefer) req.set('prefer', r.prefer);
        if (r.accept) req.set('accept', r.accept);
        const res = r.method === 'patch' ? await req.send({ qty: 1 }) : await req;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        return res.status < 500;
      }),
      { numRuns: 400, seed: 20261123 },
    );
    // The generator reaches both successes and refusals.
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    const victimRows = await t.sql.query(`SELECT name FROM "t_${victim.ref}".items ORDER BY id`);
    expect(victimRows.rows.map((r) => r.name)).toEqual(['a', 'b']);
  });
});
