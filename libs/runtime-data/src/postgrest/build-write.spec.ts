import { TablePolicy, allowAll } from './catalog';
import { buildDelete, buildInsert, buildUpdate } from './build-write';
import { POLICY_VIOLATION_MARKER } from './map-pg-error';
import { ALICE, BOB, catalogOf, ctx, policyOf } from './postgrest.fixtures';
import { planDelete, planInsert, planUpdate } from './postgrest';
import { BuildContext } from './resolver';

const admin = ctx(allowAll);
const q = (query: string, prefer?: string) => ({ query: new URLSearchParams(query), headers: prefer ? { prefer } : {} });
const rejects = (fn: () => unknown, props: Record<string, unknown>) => expect(fn).toThrow(expect.objectContaining(props));

describe(buildInsert.name, () => {
  it('inserts one object through json_to_recordset typed by the catalog, as one parameter', () => {
    const plan = planInsert(admin, 'users', q(''), { email: 'a@b.c', age: 3 });
    expect(plan.text).toContain('INSERT INTO "t_abc123"."users" AS t_conflict ("email", "age") SELECT r."email", r."age" FROM json_to_recordset($1::json) AS r("email" text, "age" int4)');
    expect(plan.values[0]).toBe(JSON.stringify([{ email: 'a@b.c', age: 3 }]));
    expect(plan).toMatchObject({ kind: 'insert', upsert: false, returning: 'minimal', hasFilters: false });
    expect(plan.text).toContain('NULL::text AS body');
  });

  it('inserts arrays in one statement; missing keys are NULL, or DEFAULT per row with missing=default', () => {
    const plan = planInsert(admin, 'posts', q(''), [{ title: 'a' }, { title: 'b', data: { x: [1] }, tags: ['t'] }]);
    expect(plan.text.match(/INSERT INTO/g)).toHaveLength(1);
    expect(JSON.parse(plan.values[0] as string)).toEqual([
      { title: 'a', data: null, tags: null },
      { title: 'b', data: { x: [1] }, tags: ['t'] },
    ]);
    // missing=default: one INSERT over the elements in order; a column with a default takes it where the key is absent.
    const defaults = planInsert(admin, 'posts', q('', 'missing=default'), [{ title: 'a' }, { title: 'b', published: true }, {}]);
    expect(defaults.text.match(/INSERT INTO/g)).toHaveLength(1);
    expect(defaults.text).toContain('WITH ORDINALITY');
    expect(defaults.text).toContain('ORDER BY e.i');
  });

  it('restricts columns with columns= and ignores other keys', () => {
    const plan = planInsert(admin, 'users', q('columns=email'), [{ email: 'x', secret: 's', bogus: 1 }]);
    expect(JSON.parse(plan.values[0] as string)).toEqual([{ email: 'x' }]);
  });

  it('rejects unknown columns (PGRST204) and bodies that are not objects (PGRST102)', () => {
    rejects(() => planInsert(admin, 'users', q(''), { nope: 1 }), { code: 'PGRST204', status: 400, message: "Could not find the 'nope' column of 'users' in the schema cache" });
    rejects(() => planInsert(admin, 'users', q('columns=nope'), {}), { code: 'PGRST204' });
    for (const body of [null, 1, 'x', [1], [[]], [{}, null]]) rejects(() => planInsert(admin, 'users', q(''), body), { code: 'PGRST102', status: 400 });
    rejects(() => planInsert(ctx(allowAll, { limits: { maxBodyRows: 2 } }), 'users', q(''), [{}, {}, {}]), { status: 400 });
  });

  it('refuses a JSON value nested deeper than 512 levels with PGRST102 naming the key, before serialising it', () => {
    const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));
    expect(planInsert(admin, 'posts', q(''), { data: nested(512) }).values[0]).toContain('[[[');
    const deep = { code: 'PGRST102', status: 400, message: "The value of 'data' is nested deeper than 512 levels" };
    rejects(() => planInsert(admin, 'posts', q(''), [{ title: 'a' }, { data: nested(513) }]), deep);
    // Deep enough that JSON.stringify itself would overflow the stack.
    rejects(() => planInsert(admin, 'posts', q(''), { data: nested(100_000) }), deep);
    rejects(() => planInsert(admin, 'posts', q(''), { data: { a: [{ b: nested(511) }] } }), deep);
    rejects(() => planUpdate(admin, 'posts', q('id=eq.1'), { data: nested(100_000) }), deep);
  });

  it('returns the written rows through the read projection when asked, with embeds', () => {
    const plan = planInsert(admin, 'posts', q('select=id,author:users!author_id(name)', 'return=representation'), { title: 'x' });
    expect(plan.text).toContain('FROM pgrst_mut AS t');
    expect(plan.text).toContain('"t_abc123"."users"');
    expect(plan.returning).toBe('representation');
  });

  it('an empty array writes nothing', () => {
    const plan = planInsert(admin, 'users', q(''), []);
    expect(plan.text).not.toContain('INSERT');
  });

  describe('upsert', () => {
    it('merge-duplicates on the primary key updates the sent non-key columns', () => {
      const plan = planInsert(admin, 'users', q('', 'resolution=merge-duplicates'), { id: ALICE, name: 'A', age: 1 });
      expect(plan.text).toContain('ON CONFLICT ("id") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age" RETURNING t_conflict.*, (t_conflict.xmax = 0) AS "pgrst_inserted"');
      expect(plan.upsert).toBe(true);
    });
    it('on_conflict must name the primary key or a unique key', () => {
      expect(planInsert(admin, 'users', q('on_conflict=email', 'resolution=merge-duplicates'), { email: 'x' }).text).toContain('ON CONFLICT ("email") DO UPDATE SET "email" = EXCLUDED."email"');
      expect(planInsert(admin, 'posts', q('on_conflict=author_id,title', 'resolution=ignore-duplicates'), { title: 'x' }).text).toContain('ON CONFLICT ("author_id", "title") DO NOTHING');
      rejects(() => planInsert(admin, 'users', q('on_conflict=name', 'resolution=merge-duplicates'), { name: 'x' }), { code: '42P10', status: 400 });
      rejects(() => planInsert(admin, 'users', q('on_conflict=nope', 'resolution=merge-duplicates'), { name: 'x' }), { code: '42703' });
    });
  });

  describe('policy', () => {
    const own: TablePolicy = { rows: [{ owner_id: ALICE }], columns: ['post_id', 'owner_id', 'body'] };
    const c = (rules: Record<string, TablePolicy>): BuildContext => ctx(policyOf({ comments: rules }));

    it('checks every written row against the create rule in SQL and raises the marker', () => {
      const plan = planInsert(c({ create: own }), 'comments', q(''), { post_id: 1, owner_id: ALICE });
      expect(plan.text).toMatch(/count\(\*\) FILTER \(WHERE \(t\d+\."owner_id" = \$\d+::uuid\) IS NOT TRUE\) AS bad/);
      expect(plan.text).toContain(`THEN ('${POLICY_VIOLATION_MARKER} ' || v.bad)::int ELSE 0 END AS guard`);
    });

    it('no check when the create rule is all', () => {
      expect(planInsert(c({ create: { rows: 'all', columns: 'all' } }), 'comments', q(''), { post_id: 1 }).text).toContain(', 0 AS bad');
    });

    it('limits the DO UPDATE SET columns to the update rule', () => {
      const upd: TablePolicy = { rows: [{ owner_id: ALICE }], columns: ['body'] };
      // SET may only name columns the update rule allows; post_id/owner_id are creatable but not updatable: 42501.
      rejects(() => planInsert(c({ create: own, update: upd }), 'comments', q('', 'resolution=merge-duplicates'), { post_id: 1, owner_id: ALICE, body: 'b' }), { code: '42501' });
      expect(() => planInsert(c({ create: own, update: { ...upd, columns: 'all' } }), 'comments', q('', 'resolution=merge-duplicates'), { post_id: 1, owner_id: ALICE, body: 'b' })).not.toThrow();
    });

    it('refuses writing columns outside the rule: 42501 if readable, PGRST204 otherwise', () => {
      const p = (read: TablePolicy) => ctx(policyOf({ comments: { create: own, read } }));
      rejects(() => planInsert(p({ rows: 'all', columns: ['id'] }), 'comments', q(''), { id: 5 }), { code: '42501' });
      rejects(() => planInsert(p({ rows: 'all', columns: ['body'] }), 'comments', q(''), { id: 5 }), { code: 'PGRST204' });
    });

    it("'none' create → 42501; return=representation needs read", () => {
      rejects(() => planInsert(c({}), 'comments', q(''), {}), { code: '42501', status: 403 });
      rejects(() => planInsert(ctx(policyOf({ comments: { create: own } }), { anonymous: true }), 'comments', q('', 'return=representation'), {}), { code: '42501', status: 401 });
    });
  });
});

describe('plain inserts built once per shape', () => {
  // A fresh TableDef (as a recompiled catalog has) is never served from what was built for another.
  const fresh = (c: BuildContext): BuildContext => ({ ...c, catalog: { ...c.catalog, tables: new Map([...c.catalog.tables].map(([k, t]) => [k, { ...t }])) } });
  const own = (uid: string): TablePolicy => ({ rows: [{ owner_id: uid }], columns: ['post_id', 'owner_id', 'body'] });

  it('answers a repeated shape exactly as a fresh build does, with the request’s rows and preferences', () => {
    const c = ctx(policyOf({ comments: { create: own(ALICE) } }));
    const first = planInsert(c, 'comments', q(''), { post_id: 1, owner_id: ALICE });
    for (const [query, prefer, body] of [
      ['', undefined, { post_id: 2, owner_id: ALICE }],
      ['', 'return=headers-only, count=exact', { post_id: 3, owner_id: ALICE }],
      ['columns=post_id,owner_id', undefined, [{ post_id: 4, owner_id: ALICE, extra: 1 }]],
    ] as const) {
      const again = planInsert(c, 'comments', q(query, prefer), body);
      expect(again.text).toBe(first.text);
      expect(again).toEqual(planInsert(fresh(c), 'comments', q(query, prefer), body));
    }
    const other = planInsert(c, 'comments', q(''), { owner_id: ALICE, post_id: 5 });
    expect(other.text).not.toBe(first.text);
    expect(other).toEqual(planInsert(fresh(c), 'comments', q(''), { owner_id: ALICE, post_id: 5 }));
  });

  it('takes the rule’s values from the caller’s own rule, and the schema from the catalog', () => {
    const alice = planInsert(ctx(policyOf({ comments: { create: own(ALICE) } })), 'comments', q(''), { post_id: 1, owner_id: ALICE });
    const bob = planInsert(ctx(policyOf({ comments: { create: own(BOB) } })), 'comments', q(''), { post_id: 1, owner_id: ALICE });
    expect(alice.values).toContain(ALICE);
    expect(bob.values).toContain(BOB);
    expect(bob.values).not.toContain(ALICE);
    expect(bob).toEqual(planInsert(fresh(ctx(policyOf({ comments: { create: own(BOB) } }))), 'comments', q(''), { post_id: 1, owner_id: ALICE }));
    const elsewhere = planInsert({ ...admin, catalog: catalogOf('t_other1') }, 'users', q(''), { email: 'a' });
    expect(planInsert(admin, 'users', q(''), { email: 'a' }).text).toContain('"t_abc123"."users"');
    expect(elsewhere.text).toContain('"t_other1"."users"');
  });

  it('still refuses what a fresh build refuses', () => {
    planInsert(admin, 'users', q(''), { email: 'a' });
    rejects(() => planInsert(admin, 'users', q('posts.title=eq.x'), { email: 'a' }), { code: 'PGRST108' });
    rejects(() => planInsert(admin, 'users', q(''), { email: 'a', nope: 1 }), { code: 'PGRST204' });
  });
});

describe('upsert policy', () => {
  it('combines create, update and existing-row checks', () => {
    const own: TablePolicy = { rows: [{ owner_id: ALICE }], columns: 'all' };
    const c = ctx(policyOf({ comments: { create: own, update: own } }));
    const plan = planInsert(c, 'comments', q('', 'resolution=merge-duplicates'), [{ id: 1, post_id: 1, owner_id: ALICE }]);
    expect(plan.text).toMatch(/DO UPDATE SET .* WHERE t_conflict\."owner_id" = \$\d+::uuid RETURNING/);
    expect(plan.text).toMatch(/\(t\d+\."pgrst_inserted" AND \(t\d+\."owner_id" = \$\d+::uuid\) IS NOT TRUE\) OR \(NOT t\d+\."pgrst_inserted" AND \(t\d+\."owner_id" = \$\d+::uuid\) IS NOT TRUE\)/);
    expect(plan.text).toMatch(/v\.bad > 0 OR v\.n <> \$\d+::int4/);
    rejects(() => planInsert(ctx(policyOf({ comments: { create: own } })), 'comments', q('', 'resolution=merge-duplicates'), {}), { code: '42501' });
    expect(() => planInsert(ctx(policyOf({ comments: { create: own } })), 'comments', q('', 'resolution=ignore-duplicates'), {})).not.toThrow();
  });
});

describe(buildUpdate.name, () => {
  it('sets the body columns from one JSON parameter where the filters match', () => {
    const plan = planUpdate(admin, 'users', q('id=eq.' + ALICE, 'return=representation'), { name: 'n', age: 2 });
    expect(plan.text).toContain('UPDATE "t_abc123"."users" AS t0 SET "name" = r."name", "age" = r."age" FROM json_to_record($');
    expect(plan.text).toMatch(/WHERE t0\."id" = \$\d+::uuid RETURNING t0\.\*/);
    expect(plan).toMatchObject({ kind: 'update', hasFilters: true, returning: 'representation' });
  });

  it('flags filterless updates, and ignores embed-only filters for the flag', () => {
    expect(planUpdate(admin, 'users', q(''), { name: 'n' }).hasFilters).toBe(false);
  });

  it('rejects array bodies, unknown columns, limit/order', () => {
    rejects(() => planUpdate(admin, 'users', q(''), [{ name: 'n' }]), { code: 'PGRST102' });
    rejects(() => planUpdate(admin, 'users', q(''), { nope: 1 }), { code: 'PGRST204' });
    rejects(() => planUpdate(admin, 'users', q('limit=1'), { name: 'x' }), { status: 400 });
  });

  it('an empty body touches nothing', () => {
    expect(planUpdate(admin, 'users', q('id=eq.' + ALICE), {}).text).not.toContain('UPDATE');
  });

  it('restricts to the update rule, adds the read rule when filters could reveal rows, and checks the new row', () => {
    const own: TablePolicy = { rows: [{ owner_id: ALICE }], columns: ['body'] };
    const c = ctx(policyOf({ comments: { update: own, read: { rows: [{ body: { $ne: 'secret' } }], columns: ['body', 'id'] } } }));
    const plan = planUpdate(c, 'comments', q('id=eq.1'), { body: 'b' });
    expect(plan.text).toMatch(/WHERE \(\(t0\."body" IS DISTINCT FROM \$\d+::text\) AND \(t0\."id" = \$\d+::int8\) AND \(t0\."owner_id" = \$\d+::uuid\)\)/);
    expect(plan.text).toMatch(/FILTER \(WHERE \(t\d+\."owner_id" = \$\d+::uuid\) IS NOT TRUE\)/);
    // filters can only use readable columns: a hidden one can't be probed through the affected count
    rejects(() => planUpdate(c, 'comments', q('owner_id=eq.' + ALICE), { body: 'b' }), { code: '42703' });
    rejects(() => planUpdate(c, 'comments', q(''), { owner_id: ALICE }), { code: 'PGRST204' });
    const noRead = ctx(policyOf({ comments: { update: own } }));
    expect(planUpdate(noRead, 'comments', q(''), { body: 'b' }).text).toContain('WHERE t0."owner_id" = $');
    rejects(() => planUpdate(noRead, 'comments', q('id=eq.1'), { body: 'b' }), { code: '42501' });
  });
});

describe(buildDelete.name, () => {
  it('deletes where the filters and the delete rule match', () => {
    const c = ctx(policyOf({ comments: { delete: { rows: [{ owner_id: ALICE }], columns: 'all' }, read: { rows: 'all', columns: 'all' } } }));
    const plan = planDelete(c, 'comments', q('post_id=eq.1', 'return=representation,count=exact'));
    expect(plan.text).toMatch(/DELETE FROM "t_abc123"\."comments" AS t0 WHERE \(\(t0\."post_id" = \$\d+::int8\) AND \(t0\."owner_id" = \$\d+::uuid\)\) RETURNING t0\.\*/);
    expect(plan).toMatchObject({ kind: 'delete', hasFilters: true, count: 'exact' });
    expect(planDelete(c, 'comments', q('')).hasFilters).toBe(false);
    rejects(() => planDelete(ctx(policyOf({})), 'comments', q('')), { code: '42501' });
    rejects(() => planDelete(c, 'comments', q('order=id')), { status: 400 });
  });
});
