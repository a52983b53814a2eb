import { TablePolicy, allowAll } from './catalog';
import { buildRead } from './build-read';
import { ALICE, CATALOG, ctx, policyOf } from './postgrest.fixtures';
import { estimateStatement, finishRead, planRead } from './postgrest';
import { BuildContext } from './resolver';

const admin = ctx(allowAll);
const read = (c: BuildContext, table: string, query: string, headers: Record<string, string> = {}) => planRead(c, table, { query: new URLSearchParams(query), headers });
const rejects = (fn: () => unknown, props: Record<string, unknown>) => expect(fn).toThrow(expect.objectContaining(props));

describe(buildRead.name, () => {
  it('builds one statement over the schema-qualified table with parameters for everything but identifiers', () => {
    const plan = read(admin, 'posts', 'select=id,title&title=eq.hello&order=id.desc.nullslast&limit=10&offset=20');
    expect(plan.text).toContain('FROM "t_abc123"."posts" AS t0');
    expect(plan.text).toContain('t0."title" = $');
    expect(plan.text).toContain('ORDER BY t0."id" DESC NULLS LAST');
    expect(plan.text).not.toContain('hello');
    expect(plan.values).toEqual(expect.arrayContaining(['hello', '10', '20', 'id', 'title']));
    expect(plan).toMatchObject({ kind: 'read', table: 'posts', single: false, offset: 20, limit: 10 });
  });

  it('casts values to the column type without its modifier, so they are never truncated', () => {
    const plan = read(admin, 'users', 'name=eq.abc&age=gt.3&id=eq.' + ALICE);
    expect(plan.text).toMatch(/t0\."name" = \$\d+::text/);
    expect(plan.text).toMatch(/t0\."age" > \$\d+::int4/);
    expect(plan.text).toMatch(/t0\."id" = \$\d+::uuid/);
  });

  it('validates values against cheap types with PostgreSQL codes', () => {
    rejects(() => read(admin, 'users', 'age=eq.abc'), { status: 400, code: '22P02', message: 'invalid input syntax for type integer: "abc"' });
    rejects(() => read(admin, 'users', 'age=eq.99999999999'), { status: 400, code: '22003' });
    rejects(() => read(admin, 'users', 'id=eq.nope'), { code: '22P02', message: 'invalid input syntax for type uuid: "nope"' });
    rejects(() => read(admin, 'posts', 'published=eq.maybe'), { code: '22P02' });
    rejects(() => read(admin, 'posts', 'price=gt.1e'), { code: '22P02' });
    rejects(() => read(admin, 'posts', 'data=eq.{bad'), { code: '22P02' });
    rejects(() => read(admin, 'users', 'age=in.(1,x)'), { code: '22P02' });
    expect(() => read(admin, 'posts', 'published=eq.TRUE&price=gt.-1.5e3&score=lt.NaN')).not.toThrow();
  });

  it('translates every operator', () => {
    const q =
      'age=neq.1&age=gte.2&age=lte.3&age=lt.4&name=like.a*&name=ilike.*b&name=match.^a&name=imatch.b$&age=in.(1,2)&age=is.null&secret=is.not_null&age=isdistinct.5&tags=cs.{a}&tags=cd.{a,b}&tags=ov.{c}&data=cs.{"a":1}';
    const plan = read(admin, 'users', 'select=id&' + q.replace(/tags|data/g, 'x').replace(/x=[^&]*&?/g, ''));
    expect(plan.text).toContain('t0."age" <> $');
    expect(plan.text).toContain('t0."age" >= $');
    expect(plan.text).toContain('t0."name" LIKE $');
    expect(plan.text).toContain('t0."name" ILIKE $');
    expect(plan.text).toContain('t0."name" ~ $');
    expect(plan.text).toContain('t0."name" ~* $');
    expect(plan.text).toMatch(/t0\."age" = ANY\(\$\d+::int4\[\]\)/);
    expect(plan.text).toContain('t0."age" IS NULL');
    expect(plan.text).toContain('t0."secret" IS NOT NULL');
    expect(plan.text).toContain('t0."age" IS DISTINCT FROM $');
    expect(plan.values).toEqual(expect.arrayContaining(['a%', '%b', ['1', '2']]));
    const arrays = read(admin, 'posts', 'tags=cs.{a}&tags=cd.{a,b}&tags=ov.{c}&data=cs.{"a":1}&published=is.true&published=not.is.false&age=lt.1'.replace('&age=lt.1', ''));
    expect(arrays.text).toMatch(/t0\."tags" @> \$\d+::text\[\]/);
    expect(arrays.text).toMatch(/t0\."tags" <@ \$\d+/);
    expect(arrays.text).toMatch(/t0\."tags" && \$\d+/);
    expect(arrays.text).toMatch(/t0\."data" @> \$\d+::jsonb/);
    expect(arrays.text).toContain('t0."published" IS TRUE');
    expect(arrays.text).toContain('NOT (t0."published" IS FALSE)');
  });

  it('rejects operators that do not fit the type', () => {
    rejects(() => read(admin, 'users', 'age=is.true'), { code: '42804', status: 400 });
    rejects(() => read(admin, 'users', 'age=cs.{1}'), { code: '42883' });
    rejects(() => read(admin, 'posts', 'tags=in.(a)'), { code: '42883' });
    rejects(() => read(admin, 'users', 'name->>x=eq.1'), { code: '42883' });
  });

  it('compares non-text columns through text for like', () => {
    expect(read(admin, 'users', 'age=like.1*').text).toContain('t0."age"::text LIKE $');
  });

  it('builds or/and/not trees', () => {
    const plan = read(admin, 'users', 'or=(age.eq.1,and(name.eq.a,not.or(age.gt.5,age.is.null)))&not.and=(age.eq.2,name.eq.b)');
    expect(plan.text).toMatch(/\(\(t0\."age" = \$\d+::int4\) OR \(\(\(t0\."name" = \$\d+::text\) AND \(NOT \(\(t0\."age" > \$\d+::int4\) OR \(t0\."age" IS NULL\)\)\)\)\)\)/);
    expect(plan.text).toMatch(/NOT \(\(t0\."age" = \$\d+::int4\) AND \(t0\."name" = \$\d+::text\)\)/);
  });

  it('reads JSON paths with bound keys in select, filter and order', () => {
    const plan = read(admin, 'posts', 'select=k:data->a->>b,data->0&data->>n=eq.1&data->x=eq.{"y":1}&order=data->>n.desc');
    expect(plan.text).toMatch(/\(\(t0\."data" -> \$\d+::text\) ->> \$\d+::text\)/);
    expect(plan.text).toMatch(/\(t0\."data" -> \$\d+::int4\)/);
    expect(plan.text).toMatch(/\(t0\."data" ->> \$\d+::text\) = \$\d+::text/);
    expect(plan.text).toMatch(/\(t0\."data" -> \$\d+::text\) = \$\d+::jsonb/);
    expect(plan.text).toMatch(/ORDER BY \(t0\."data" ->> \$\d+::text\) DESC/);
    expect(plan.values).toEqual(expect.arrayContaining(['a', 'b', '0', 'n', 'x', 'k', 'data']));
    expect(() => read(admin, 'posts', 'select=data->>a->b')).toThrow(expect.objectContaining({ code: 'PGRST100' }));
  });

  it('applies casts from the allow-list only', () => {
    expect(read(admin, 'users', 'select=age::text').text).toContain('(t0."age")::text');
  });

  describe('page', () => {
    it('clamps limit to maxRows and applies it by default', () => {
      expect(read(admin, 'posts', 'limit=100000')).toMatchObject({ limit: 1000, offset: 0 });
      expect(read(ctx(allowAll, { limits: { maxRows: 50 } }), 'posts', '')).toMatchObject({ limit: 50 });
      expect(read(admin, 'posts', 'limit=0')).toMatchObject({ limit: 0 });
    });
    it('takes the Range header and intersects it with limit/offset', () => {
      expect(read(admin, 'posts', '', { range: '10-19' })).toMatchObject({ offset: 10, limit: 10 });
      expect(read(admin, 'posts', 'limit=5', { range: '0-19' })).toMatchObject({ offset: 0, limit: 5 });
      expect(read(admin, 'posts', '', { range: '5-' })).toMatchObject({ offset: 5, limit: 1000 });
    });
  });

  describe('count', () => {
    it('exact counts the filtered rows in the same statement', () => {
      const plan = read(admin, 'posts', 'published=is.true', { prefer: 'count=exact' });
      expect(plan.text).toContain('(SELECT count(*) FROM "t_abc123"."posts" AS t0 WHERE t0."published" IS TRUE) AS total');
      expect(plan.count).toBe('exact');
    });
    it('planned and estimated EXPLAIN the same rule-filtered rows, never the table statistics', () => {
      const owned = ctx(policyOf({ posts: { read: { rows: [{ author_id: ALICE }], columns: 'all' } } }));
      const planned = read(owned, 'posts', 'published=is.true', { prefer: 'count=planned' });
      expect(planned.text).not.toContain('pg_class');
      expect(planned.text).toContain('NULL::int8 AS total');
      expect(planned.estimate?.text).toMatch(/^EXPLAIN \(FORMAT JSON\) SELECT .* FROM "t_abc123"\."posts" AS t0 WHERE .*t0\."author_id" = \$\d+::uuid.*t0\."published" IS TRUE/);
      expect(planned.estimate?.text).not.toContain('LIMIT');
      expect(planned.estimate?.values).toContain(ALICE);
      const estimated = read(owned, 'posts', '', { prefer: 'count=estimated' });
      expect(estimated.text).toContain('LIMIT $');
      expect(estimated.estimate?.text).toContain('t0."author_id" = $');
      expect(read(owned, 'posts', '', { prefer: 'count=exact' }).estimate).toBeUndefined();
    });
    it('takes the top plan node\'s rows as the planned total; estimated keeps an exact total up to maxRows', () => {
      const explain = [{ Plan: { 'Node Type': 'Seq Scan', 'Plan Rows': 12.4 } }];
      const planned = read(admin, 'posts', '', { prefer: 'count=planned' });
      expect(estimateStatement(planned, { body: '[]', n: 0, total: null })).toBe(planned.estimate);
      expect(finishRead(planned, { body: '[]', n: 0, total: null }, explain).headers['Content-Range']).toBe('*/12');
      expect(finishRead(planned, { body: '[]', n: 0, total: null }, JSON.stringify(explain)).headers['Content-Range']).toBe('*/12');
      const estimated = read(admin, 'posts', '', { prefer: 'count=estimated' });
      expect(estimateStatement(estimated, { body: '[]', n: 0, total: '7' })).toBeUndefined();
      expect(estimateStatement(estimated, { body: '[]', n: 0, total: '1001' })).toBe(estimated.estimate);
      expect(finishRead(estimated, { body: '[]', n: 0, total: '1001' }, [{ Plan: { 'Plan Rows': 50000 } }]).headers['Content-Range']).toBe('*/50000');
      expect(finishRead(estimated, { body: '[]', n: 0, total: '1001' }, [{ Plan: { 'Plan Rows': 10 } }]).headers['Content-Range']).toBe('*/1001');
    });
    it('no count gives NULL', () => {
      expect(read(admin, 'posts', '').text).toContain('NULL::int8 AS total');
    });
  });

  it('returns the first element for a single object', () => {
    expect(read(admin, 'posts', '', { accept: 'application/vnd.pgrst.object+json' }).text).toContain("(json_agg(_p.j) -> 0)::text AS body");
  });

  describe('embedding', () => {
    it('embeds to-one as an object subquery and to-many as an array subquery', () => {
      const plan = read(admin, 'comments', 'select=id,posts(id,comments(id))');
      expect(plan.text).toContain('(SELECT json_build_object($');
      expect(plan.text).toContain('FROM "t_abc123"."posts" AS t1 WHERE t1."id" = t0."post_id")');
      expect(plan.text).toMatch(/coalesce\(json_agg\(_t2\.j\), '\[\]'::json\) FROM \(SELECT .* FROM "t_abc123"\."comments" AS t2 WHERE t2\."post_id" = t1\."id" LIMIT/);
    });

    it('treats a child whose key is its primary key as one-to-one', () => {
      const plan = read(admin, 'users', 'select=profiles(bio)');
      expect(plan.text).toMatch(/\(SELECT json_build_object\(\$\d+::text, t1\."bio"\) FROM "t_abc123"\."profiles" AS t1 WHERE t1\."user_id" = t0\."id"\)/);
    });

    it('needs a hint when several foreign keys fit (PGRST201) and errors without any (PGRST200)', () => {
      rejects(() => read(admin, 'posts', 'select=users(*)'), { code: 'PGRST201', status: 300 });
      rejects(() => read(admin, 'users', 'select=posts(*)'), { code: 'PGRST201' });
      expect(read(admin, 'posts', 'select=users!editor_id(*)').text).toContain('t1."id" = t0."editor_id"');
      expect(read(admin, 'users', 'select=posts!posts_editor_id_fkey(*)').text).toContain('t1."editor_id" = t0."id"');
      rejects(() => read(admin, 'orgs', 'select=comments(*)'), { code: 'PGRST200', status: 400 });
      rejects(() => read(admin, 'orgs', 'select=nope(*)'), { code: 'PGRST200' });
      rejects(() => read(admin, 'posts', 'select=users!nope(*)'), { code: 'PGRST200' });
    });

    it('applies embedded filters, order and limit inside the embed, capped at maxRows', () => {
      const plan = read(admin, 'posts', 'select=id,c:comments(body)&c.body=eq.x&c.order=id.desc&c.limit=5000&c.offset=2');
      expect(plan.text).toMatch(/t1\."post_id" = t0\."id"\) AND \(t1\."body" = \$\d+::text\)\) ORDER BY t1\."id" DESC LIMIT/);
      expect(plan.values).toEqual(expect.arrayContaining(['1000', '2']));
    });

    it('turns !inner into an EXISTS on the parent, also in the count', () => {
      const plan = read(admin, 'posts', 'select=id,comments!inner(id)&comments.body=eq.x', { prefer: 'count=exact' });
      expect(plan.text.match(/EXISTS \(SELECT 1 FROM "t_abc123"\."comments" AS t1/g)).toHaveLength(2);
    });

    it('embeds through a foreign key column or name, as PostgREST allows', () => {
      expect(read(admin, 'posts', 'select=author:author_id(name)').text).toContain('FROM "t_abc123"."users" AS t1 WHERE t1."id" = t0."author_id")');
      expect(read(admin, 'posts', 'select=posts_editor_id_fkey(name)').text).toContain('t1."id" = t0."editor_id"');
      rejects(() => read(admin, 'posts', 'select=title(name)'), { code: 'PGRST200' });
    });

    it('rejects filters on resources that are not embedded (PGRST108)', () => {
      rejects(() => read(admin, 'posts', 'select=id&comments.body=eq.x'), { code: 'PGRST108', status: 400 });
      rejects(() => read(admin, 'posts', 'select=id&comments.order=id'), { code: 'PGRST108' });
    });
  });

  describe('errors', () => {
    it('unknown table → PGRST205 404 naming public, never the tenant schema', () => {
      rejects(() => read(admin, 'nope', ''), { code: 'PGRST205', status: 404, message: "Could not find the table 'public.nope' in the schema cache" });
    });
    it('unknown column → 42703 in select, filter and order', () => {
      for (const q of ['select=nope', 'nope=eq.1', 'order=nope', 'or=(nope.eq.1)', 'select=data->>a&order=nope->>a']) {
        rejects(() => read(admin, 'posts', q), { code: '42703', status: 400 });
      }
    });
  });

  describe('policy', () => {
    const readOnly = (read: TablePolicy, extra: Record<string, Partial<Record<string, TablePolicy>>> = {}) => ctx(policyOf({ users: { read }, ...extra }));
    const hidden: TablePolicy = { rows: 'all', columns: ['id', 'name', 'age'] };

    it('expands * to the readable columns only', () => {
      const plan = read(readOnly(hidden), 'users', 'select=*');
      expect(plan.values.filter((v) => typeof v === 'string')).toEqual(['id', 'name', 'age', '1000', '0']);
      expect(plan.text).not.toContain('"secret"');
    });

    it('hides hidden columns from select, filters (also in trees and JSON paths) and order with the unknown-column error', () => {
      for (const q of ['select=secret', 'select=s:secret', 'secret=eq.x', 'secret=is.null', 'or=(name.eq.a,secret.like.a*)', 'order=secret', 'select=secret::text']) {
        rejects(() => read(readOnly(hidden), 'users', q), { code: '42703', message: 'column users.secret does not exist' });
      }
    });

    it('puts the row condition in the WHERE of the root, and of embeds for their own table', () => {
      const c = ctx(
        policyOf({
          posts: { read: { rows: [{ published: true }, { author_id: ALICE }], columns: 'all' } },
          comments: { read: { rows: [{ owner_id: ALICE, id: { $gt: 0, $in: [1, 2, null] } }], columns: ['body', 'post_id'] } },
        }),
      );
      const plan = read(c, 'posts', 'select=id,comments(body)&id=gt.1', { prefer: 'count=exact' });
      const where = plan.text.slice(plan.text.lastIndexOf(' WHERE '));
      expect(where).toMatch(/\(t0\."published" = \$\d+::bool\) OR \(t0\."author_id" = \$\d+::uuid\)/);
      expect(where).toMatch(/\) AND \(t0\."id" > \$\d+::int8\)/);
      const embed = plan.text.slice(plan.text.indexOf('"comments" AS t1 WHERE'));
      expect(embed).toMatch(/^"comments" AS t1 WHERE \(\(t1\."post_id" = t0\."id"\) AND \(\(\(t1\."owner_id" = \$\d+::uuid\) AND/);
      expect(embed).toMatch(/t1\."id" > \$\d+::int8/);
      expect(embed).toMatch(/\(t1\."id" = ANY\(\$\d+::int8\[\]\) OR t1\."id" IS NULL\)/);
      expect(plan.values).toEqual(expect.arrayContaining(['true', ALICE, ['1', '2']]));
      rejects(() => read(c, 'posts', 'select=comments(id)'), { code: '42703' });
    });

    it('an empty condition list matches nothing; an empty condition matches everything', () => {
      expect(read(readOnly({ rows: [], columns: 'all' }), 'users', '').text).toContain('WHERE FALSE');
      expect(read(readOnly({ rows: [{}], columns: 'all' }), 'users', '').text).toContain('WHERE TRUE');
    });

    it('translates $ne/$nin/$lt with CASL null semantics', () => {
      const plan = read(readOnly({ rows: [{ name: { $ne: 'x', $nin: ['a'] }, age: { $lt: 5, $ne: null }, secret: null }], columns: 'all' }), 'users', '');
      expect(plan.text).toContain('t0."name" IS DISTINCT FROM $');
      expect(plan.text).toMatch(/\(t0\."name" IS NULL OR t0\."name" <> ALL\(\$\d+::text\[\]\)\)/);
      expect(plan.text).toContain('t0."age" IS NOT NULL');
      expect(plan.text).toContain('t0."secret" IS NULL');
    });

    it("'none' is a permission error: 401 for anonymous callers, 403 otherwise, also for embedded tables", () => {
      rejects(() => read(ctx(policyOf({}), { anonymous: true }), 'users', ''), { code: '42501', status: 401, message: 'permission denied for table users' });
      rejects(() => read(ctx(policyOf({})), 'users', ''), { code: '42501', status: 403 });
      rejects(() => read(readOnly({ rows: 'all', columns: 'all' }), 'users', 'select=id,orgs(*)'), { code: '42501', status: 403, message: 'permission denied for table orgs' });
    });

    it('refuses malformed rules as a server error rather than ignoring them', () => {
      expect(() => read(readOnly({ rows: [{ nope: 1 }], columns: 'all' }), 'users', '')).toThrow(Error);
      expect(() => read(readOnly({ rows: [{ age: { $regex: 'x' } as never }], columns: 'all' }), 'users', '')).toThrow(/Unsupported operator/);
    });
  });

  it('uses the catalog schema as given', () => {
    expect(read({ ...admin, catalog: { ...CATALOG, schema: 't_other9' } }, 'orgs', '').text).toContain('"t_other9"."orgs"');
  });
});

describe('PostgREST parity in the generated SQL', () => {
  it('binds quantified lists as one array parameter, never as SQL text', () => {
    const plan = read(admin, 'posts', 'title=like(any).{a*,"b,);--"}&id=gt(all).{1,2}');
    expect(plan.text).toMatch(/t0\."title" LIKE ANY\(\$\d+::text\[\]\)/);
    expect(plan.text).toMatch(/t0\."id" > ALL\(\$\d+::int8\[\]\)/);
    expect(plan.text).not.toContain(';--');
    expect(plan.values).toEqual(expect.arrayContaining([['a%', 'b,);--'], ['1', '2']]));
    rejects(() => read(admin, 'posts', 'id=eq(any).{1,x}'), { code: '22P02' });
    rejects(() => read(admin, 'posts', 'tags=eq(any).{a}'), { code: '42883' });
  });

  it('binds full-text configurations as regconfig parameters from a fixed list', () => {
    const plan = read(admin, 'posts', 'title=wfts(english).cats');
    expect(plan.text).toMatch(/to_tsvector\(\$\d+::regconfig, t0\."title"\) @@ websearch_to_tsquery\(\$\d+::regconfig, \$\d+::text\)/);
    rejects(() => read(admin, 'posts', 'title=fts(pg_catalog).x'), { code: '42704', status: 400 });
    rejects(() => read(admin, 'posts', 'id=fts.x'), { code: '42883' });
  });

  it('groups by the non-aggregated fields and refuses aggregates when the project switched them off', () => {
    const plan = read(admin, 'posts', 'select=published,count(),score.sum()');
    expect(plan.text).toContain('count(*)');
    expect(plan.text).toMatch(/sum\(t0\."score"\)/);
    expect(plan.text).toContain('GROUP BY t0."published"');
    rejects(() => read({ ...admin, aggregates: false }, 'posts', 'select=count()'), { code: 'PGRST123', status: 400 });
    rejects(() => read(admin, 'posts', 'select=count(),users!editor_id(id)'), { code: 'PGRST100' });
  });

  it('spreads a to-one embed into scalar subqueries and a to-many one into arrays per field', () => {
    const plan = read(admin, 'posts', 'select=id,...users!editor_id(editor:name)');
    expect(plan.text).toMatch(/\(SELECT t1\."name" FROM "t_abc123"\."users" AS t1 WHERE t1\."id" = t0\."editor_id"\)/);
    const many = read(admin, 'users', 'select=...posts!posts_editor_id_fkey(id)');
    expect(many.text).toMatch(/coalesce\(json_agg\(_t1\.v\), '\[\]'::json\) FROM \(SELECT t1\."id" AS v FROM "t_abc123"\."posts" AS t1 WHERE t1\."editor_id" = t0\."id" LIMIT/);
  });

  it('refuses the same embed twice at one level and lists PGRST201 candidates as objects', () => {
    rejects(() => read(admin, 'posts', 'select=users!editor_id(id),users!author_id(id)'), { code: 'PGRST100' });
    try {
      read(admin, 'posts', 'select=users(*)');
      throw new Error('no error');
    } catch (e) {
      expect((e as { details: unknown }).details).toEqual([
        { cardinality: 'many-to-one', embedding: 'posts with users', relationship: 'posts_author_id_fkey using posts(author_id) and users(id)' },
        { cardinality: 'many-to-one', embedding: 'posts with users', relationship: 'posts_editor_id_fkey using posts(editor_id) and users(id)' },
      ]);
    }
  });
});
