import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, supabase } from '../support/data';

/**
 * PostgREST parity, filters and types: `(any)`/`(all)` quantifiers, full-text search over text columns and over a
 * declared generated tsvector column (GIN-indexed), enum columns, range columns with the range operators, and array
 * operators — through supabase-js and raw HTTP, with PostgREST's statuses and bodies.
 */
describe('PostgREST parity: filters and types', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  let admin: SupabaseClient;
  let anon: SupabaseClient;

  const names = (data: unknown) => (data as Array<{ name: string }>).map((r) => r.name).sort();
  const get = (path: string, key = p.publishable) => t.http().get(rest(t, p.ref, path)).set('apikey', key);

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'parity-filters');
    p = await createProject(t, u, 'parity-filters');
    other = await createProject(t, u, 'parity-filters-other');
    await declareTable(t, u, p, {
      name: 'docs',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'name', type: 'text', nullable: false },
        { name: 'body', type: 'text' },
        { name: 'status', type: 'enum', values: ['draft', 'published', 'archived'], default: 'draft' },
        { name: 'pages', type: 'int4range' },
        { name: 'during', type: 'tstzrange' },
        { name: 'days', type: 'daterange' },
        { name: 'big', type: 'int8range' },
        { name: 'tags', type: 'text[]' },
        { name: 'hidden', type: 'text' },
        { name: 'search', type: 'tsvector', generated: { from: ['name', 'body'], language: 'english' } },
      ],
    });
    await putRules(t, u, p, 'docs', [{ role: 'anon', action: 'read', columns: ['id', 'name', 'body', 'status', 'pages', 'during', 'days', 'big', 'tags', 'search'], where: { status: { $ne: 'archived' } } }]);
    await declareTable(t, u, other, { name: 'docs', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'name', type: 'text' }] });
    admin = supabase(t, p.ref, p.secret);
    anon = supabase(t, p.ref, p.publishable);
    const ins = await admin.from('docs').insert([
      { name: 'Alpha apple', body: 'The quick brown foxes jumped', status: 'published', pages: '[1,10)', during: '[2026-01-01,2026-02-01)', days: '[2026-01-01,2026-01-10)', big: '[1,100)', tags: ['a', 'b'], hidden: 'x' },
      { name: 'Beta banana', body: 'Lazy dogs sleep all day', status: 'published', pages: '[10,20)', during: '[2026-03-01,2026-04-01)', days: '[2026-02-01,2026-02-05)', big: '[100,200)', tags: ['b', 'c'], hidden: 'x' },
      { name: 'Gamma grape', body: 'A fox and a dog', pages: '[30,40)', tags: ['c'], hidden: 'x' },
      { name: 'Archived apple', body: 'old fox story', status: 'archived', pages: '[1,5)', tags: ['a'], hidden: 'x' },
    ], { defaultToNull: false });
    expect([ins.status, ins.error]).toEqual([201, null]);
    await supabase(t, other.ref, other.secret).from('docs').insert([{ id: 1, name: 'Alpha other tenant' }]);
  });
  afterAll(() => t.close());

  describe('(any)/(all) modifiers', () => {
    it('likeAnyOf, likeAllOf, ilikeAnyOf, ilikeAllOf', async () => {
      expect(names((await anon.from('docs').select('name').likeAnyOf('name', ['Alpha%', 'Beta%'])).data)).toEqual(['Alpha apple', 'Beta banana']);
      expect(names((await anon.from('docs').select('name').likeAllOf('name', ['%a%', '%apple'])).data)).toEqual(['Alpha apple']);
      expect(names((await anon.from('docs').select('name').ilikeAnyOf('name', ['alpha%', 'gamma%'])).data)).toEqual(['Alpha apple', 'Gamma grape']);
      expect(names((await anon.from('docs').select('name').ilikeAllOf('name', ['%A%', '%P%'])).data)).toEqual(['Alpha apple', 'Gamma grape']);
    });

    it('eq(any), gt(all) and neq(all) over raw HTTP, also inside or=()', async () => {
      expect(names((await get('docs?select=name&name=eq(any).{"Alpha apple","Beta banana"}')).body)).toEqual(['Alpha apple', 'Beta banana']);
      expect(names((await get('docs?select=name&id=gt(all).{1,2}')).body)).toEqual(['Gamma grape']);
      expect(names((await get('docs?select=name&name=neq(all).{"Alpha apple","Beta banana"}')).body)).toEqual(['Gamma grape']);
      expect(names((await get('docs?select=name&or=(name.like(any).{G*,B*},id.eq.1)')).body)).toEqual(['Alpha apple', 'Beta banana', 'Gamma grape']);
    });

    it('refuses a quantifier on an operator that has none, and bad values, with 400', async () => {
      expect([(await get('docs?select=name&name=is(any).{null}')).status]).toEqual([400]);
      const bad = await get('docs?select=name&id=eq(any).{1,x}');
      expect([bad.status, bad.body.code]).toEqual([400, '22P02']);
    });
  });

  describe('full-text search (textSearch)', () => {
    it('fts, plfts, phfts and wfts over a text column, with and without a configuration', async () => {
      const fts = await anon.from('docs').select('name').textSearch('body', 'fox & dog', { config: 'english' });
      expect([fts.error, names(fts.data)]).toEqual([null, ['Gamma grape']]);
      const plain = await anon.from('docs').select('name').textSearch('body', 'lazy dogs', { type: 'plain', config: 'english' });
      expect(names(plain.data)).toEqual(['Beta banana']);
      const phrase = await anon.from('docs').select('name').textSearch('body', 'quick brown', { type: 'phrase', config: 'english' });
      expect(names(phrase.data)).toEqual(['Alpha apple']);
      const web = await anon.from('docs').select('name').textSearch('body', '"quick brown" -lazy', { type: 'websearch', config: 'english' });
      expect(names(web.data)).toEqual(['Alpha apple']);
      const simple = await get('docs?select=name&body=fts(simple).foxes');
      expect(names(simple.body)).toEqual(['Alpha apple']);
      const defaultConfig = await get('docs?select=name&body=fts.jumped');
      expect(names(defaultConfig.body)).toEqual(['Alpha apple']);
    });

    it('searches the generated tsvector column, which has a GIN index', async () => {
      const res = await anon.from('docs').select('name').textSearch('search', 'fox', { config: 'english' });
      expect([res.error, names(res.data)]).toEqual([null, ['Alpha apple', 'Gamma grape']]);
      const notFts = await get('docs?select=name&search=not.wfts(english).fox');
      expect(names(notFts.body)).toEqual(['Beta banana']);
      const index = await t.sql.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'docs' AND indexname = 'docs_search_fts'`, [`t_${p.ref}`]);
      expect(index.rows[0]?.indexdef).toMatch(/USING gin \(search\)/);
    });

    it('refuses an unknown configuration and full-text search on a non-text column with 4xx', async () => {
      const lang = await get('docs?select=name&body=fts(klingon).fox');
      expect([lang.status, lang.body.code]).toEqual([400, '42704']);
      const notText = await get('docs?select=name&id=fts.fox');
      expect([notText.status, notText.body.code]).toEqual([404, '42883']);
    });

    it('refuses writing the generated column', async () => {
      const res = await admin.from('docs').insert({ name: 'x', search: 'x' });
      expect([res.status, res.error?.code]).toEqual([400, '428C9']);
    });
  });

  describe('enum columns', () => {
    it('filter by value, take the default, and refuse other values with 400', async () => {
      expect(names((await anon.from('docs').select('name').eq('status', 'draft')).data)).toEqual(['Gamma grape']);
      const bad = await admin.from('docs').insert({ name: 'bad', status: 'deleted' });
      expect([bad.status, bad.error?.code]).toEqual([400, '23514']);
      const table = await t.http().get(`/v1/projects/${p.ref}/tables/docs`).set(u.auth);
      expect(table.body.columns.find((c: { name: string }) => c.name === 'status')).toMatchObject({ type: 'enum', values: ['draft', 'published', 'archived'] });
    });
  });

  describe('range columns and range operators', () => {
    it('cs cd ov sl sr nxl nxr adj over int4range, tstzrange, daterange and int8range', async () => {
      const cases: Array<[string, string[]]> = [
        ['pages=cs.[2,3]', ['Alpha apple']],
        ['pages=cd.[0,25)', ['Alpha apple', 'Beta banana']],
        ['pages=ov.[15,35)', ['Beta banana', 'Gamma grape']],
        ['pages=sl.[20,30)', ['Alpha apple', 'Beta banana']],
        ['pages=sr.[20,30)', ['Gamma grape']],
        ['pages=nxl.[1,20)', ['Alpha apple', 'Beta banana']],
        ['pages=nxr.[10,11)', ['Beta banana', 'Gamma grape']],
        ['pages=adj.[20,30)', ['Beta banana', 'Gamma grape']],
        ['during=ov.[2026-01-15,2026-03-15)', ['Alpha apple', 'Beta banana']],
        ['days=cs.[2026-02-03,2026-02-04)', ['Beta banana']],
        ['big=sr.[0,50)', ['Beta banana']],
      ];
      for (const [q, expected] of cases) {
        const res = await get(`docs?select=name&${q}`);
        expect([q, res.status, res.status === 200 ? names(res.body) : res.body]).toEqual([q, 200, expected]);
      }
      const viaClient = await anon.from('docs').select('name').rangeAdjacent('pages', '[20,30)');
      expect(names(viaClient.data)).toEqual(['Beta banana', 'Gamma grape']);
      const gt = await anon.from('docs').select('name').rangeGt('pages', '[20,30)');
      expect(names(gt.data)).toEqual(['Gamma grape']);
    });

    it('refuses range operators on other columns and malformed ranges with 4xx', async () => {
      expect((await get('docs?select=name&name=sl.[1,2)')).body.code).toBe('42883');
      const bad = await get('docs?select=name&pages=cs.[x');
      expect([bad.status, bad.body.code]).toEqual([400, '22P02']);
    });
  });

  describe('array operators', () => {
    it('cs, cd and ov on text[]', async () => {
      expect(names((await anon.from('docs').select('name').contains('tags', ['b'])).data)).toEqual(['Alpha apple', 'Beta banana']);
      expect(names((await anon.from('docs').select('name').containedBy('tags', ['a', 'b', 'c'])).data)).toEqual(['Alpha apple', 'Beta banana', 'Gamma grape']);
      expect(names((await anon.from('docs').select('name').overlaps('tags', ['a', 'c'])).data)).toEqual(['Alpha apple', 'Beta banana', 'Gamma grape']);
    });
  });

  describe('declarations are validated, every problem listed', () => {
    it('refuses bad enum, tsvector and range declarations with each problem', async () => {
      const res = await t.http().post(`/v1/projects/${p.ref}/tables`).set(u.auth).send({
        name: 'bad_decl',
        columns: [
          { name: 'id', type: 'int4', primary_key: true },
          { name: 'e', type: 'enum' },
          { name: 'e2', type: 'enum', values: ['a', 'a'], default: 'b' },
          { name: 'v', type: 'tsvector', generated: { from: ['id', 'nope'], language: 'klingon' } },
          { name: 'w', type: 'tsvector' },
          { name: 'x', type: 'text', values: ['a'] },
        ],
      });
      expect([res.status, res.body.error.code]).toEqual([400, 'validation_failed']);
      const paths = (res.body.error.details as Array<{ path: string }>).map((d) => d.path).sort();
      expect(paths).toEqual([
        'columns.1.values',
        'columns.2.default',
        'columns.2.values',
        'columns.3.generated.from',
        'columns.3.generated.from',
        'columns.3.generated.language',
        'columns.4.generated',
        'columns.5.values',
      ]);
    });
  });

  describe('isolation', () => {
    it('quantified and full-text filters keep to the rules: hidden rows and columns stay out of reach', async () => {
      expect(names((await anon.from('docs').select('name').likeAnyOf('name', ['Archived%', 'Alpha%'])).data)).toEqual(['Alpha apple']);
      expect(names((await anon.from('docs').select('name').textSearch('body', 'story')).data)).toEqual([]);
      const hidden = await get('docs?select=name&hidden=like(any).{x*}');
      expect([hidden.status, hidden.body.code]).toEqual([400, '42703']);
    });

    it("a crafted configuration or quantifier can't name SQL, system tables or another tenant", async () => {
      const injected = await get(`docs?select=name&body=fts(english'::regconfig,(select%20'x')).fox`);
      expect(injected.status).toBe(400);
      const sys = await get(`docs?select=name&name=eq(any).{"x"}) OR 1=1 OR name IN ("y"}`);
      expect(sys.status).toBe(400);
      const crossTenant = await get(`docs?select=name&name=like(any).{"Alpha%"}`);
      expect(names(crossTenant.body)).toEqual(['Alpha apple']);
      expect(JSON.stringify(crossTenant.body)).not.toContain('other tenant');
    });
  });
});
