import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, supabase } from '../support/data';

/**
 * The REST runtime through the real supabase-js v2 client: every filter, order, range, count, single, writes with
 * returning, upserts, embedding, and PostgREST's error objects — against tables declared through the management API.
 */
describe('data runtime: PostgREST through supabase-js', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let admin: SupabaseClient;
  let anon: SupabaseClient;
  let authorIds: Record<string, number>;

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'rest');
    p = await createProject(t, u, 'rest');
    await declareTable(t, u, p, {
      name: 'authors',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'name', type: 'text', nullable: false },
        { name: 'email', type: 'text', unique: true },
      ],
    });
    await declareTable(t, u, p, {
      name: 'books',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'author_id', type: 'int8', references: { table: 'authors', column: 'id' } },
        { name: 'title', type: 'text', nullable: false },
        { name: 'genre', type: 'text' },
        { name: 'pages', type: 'int4' },
        { name: 'rating', type: 'float8' },
        { name: 'price', type: 'numeric(10,2)' },
        { name: 'tags', type: 'text[]' },
        { name: 'meta', type: 'jsonb' },
        { name: 'published', type: 'bool', default: false },
        { name: 'released', type: 'date' },
        { name: 'isbn', type: 'text', unique: true },
      ],
    });
    await putRules(t, u, p, 'authors', [{ role: 'anon', action: 'read' }]);
    await putRules(t, u, p, 'books', [{ role: 'anon', action: 'read' }]);
    admin = supabase(t, p.ref, p.secret);
    anon = supabase(t, p.ref, p.publishable);

    const a = await admin.from('authors').insert([{ name: 'Ursula', email: 'ursula@example.com' }, { name: 'Terry', email: 'terry@example.com' }, { name: 'Nobody' }]).select('id,name');
    expect(a.error).toBeNull();
    expect(a.status).toBe(201);
    authorIds = Object.fromEntries((a.data as Array<{ id: number; name: string }>).map((r) => [r.name, r.id]));
    const books = [
      { title: 'A Wizard of Earthsea', author_id: authorIds.Ursula, genre: 'fantasy', pages: 183, rating: 4.5, price: 9.99, tags: ['magic', 'classic'], meta: { series: 'Earthsea', n: 1 }, published: true, released: '1968-11-01', isbn: 'isbn-1' },
      { title: 'The Dispossessed', author_id: authorIds.Ursula, genre: 'scifi', pages: 387, rating: 4.7, price: 12.5, tags: ['classic'], meta: { n: 2 }, published: true, released: '1974-05-01', isbn: 'isbn-2' },
      { title: 'Guards! Guards!', author_id: authorIds.Terry, genre: 'fantasy', pages: 355, rating: 4.4, price: 8, tags: ['discworld', 'funny'], meta: { series: 'Discworld', n: 8 }, published: true, released: '1989-11-01', isbn: 'isbn-3' },
      { title: 'Draft', author_id: authorIds.Terry, genre: null, pages: null, rating: null, price: null, tags: [], meta: null, published: false, released: null, isbn: 'isbn-4' },
    ];
    const b = await admin.from('books').insert(books);
    expect(b.error).toBeNull();
    expect(b.status).toBe(201);
  });
  afterAll(() => t.close());

  const titles = (data: unknown) => (data as Array<{ title: string }>).map((r) => r.title).sort();

  it('selects with every filter operator', async () => {
    const cases: Array<[string, (q: ReturnType<ReturnType<SupabaseClient['from']>['select']>) => unknown, string[]]> = [
      ['eq', (q) => q.eq('genre', 'fantasy'), ['A Wizard of Earthsea', 'Guards! Guards!']],
      ['neq', (q) => q.neq('genre', 'fantasy'), ['The Dispossessed']],
      ['gt', (q) => q.gt('pages', 355), ['The Dispossessed']],
      ['gte', (q) => q.gte('pages', 355), ['Guards! Guards!', 'The Dispossessed']],
      ['lt', (q) => q.lt('rating', 4.5), ['Guards! Guards!']],
      ['lte', (q) => q.lte('price', 9.99), ['A Wizard of Earthsea', 'Guards! Guards!']],
      ['like', (q) => q.like('title', '%Guards%'), ['Guards! Guards!']],
      ['ilike', (q) => q.ilike('title', '%the%'), ['The Dispossessed']],
      ['in', (q) => q.in('isbn', ['isbn-1', 'isbn-4']), ['A Wizard of Earthsea', 'Draft']],
      ['is null', (q) => q.is('genre', null), ['Draft']],
      ['is true', (q) => q.is('published', true), ['A Wizard of Earthsea', 'Guards! Guards!', 'The Dispossessed']],
      ['not', (q) => q.not('genre', 'is', null).not('genre', 'eq', 'scifi'), ['A Wizard of Earthsea', 'Guards! Guards!']],
      ['not in', (q) => q.not('isbn', 'in', '(isbn-1,isbn-2)'), ['Draft', 'Guards! Guards!']],
      ['or', (q) => q.or('pages.gt.380,genre.is.null'), ['Draft', 'The Dispossessed']],
      ['or with nested and', (q) => q.or('and(genre.eq.fantasy,pages.lt.200),isbn.eq.isbn-4'), ['A Wizard of Earthsea', 'Draft']],
      ['and', (q) => q.filter('pages', 'gt', 100).filter('pages', 'lt', 360), ['A Wizard of Earthsea', 'Guards! Guards!']],
      ['contains (array)', (q) => q.contains('tags', ['classic']), ['A Wizard of Earthsea', 'The Dispossessed']],
      ['overlaps (array)', (q) => q.overlaps('tags', ['funny', 'magic']), ['A Wizard of Earthsea', 'Guards! Guards!']],
      ['contains (jsonb)', (q) => q.contains('meta', { series: 'Discworld' }), ['Guards! Guards!']],
      ['json path', (q) => q.eq('meta->>series', 'Earthsea'), ['A Wizard of Earthsea']],
      ['date range', (q) => q.gte('released', '1970-01-01').lt('released', '1990-01-01'), ['Guards! Guards!', 'The Dispossessed']],
      ['match', (q) => q.match({ genre: 'fantasy', author_id: authorIds.Terry }), ['Guards! Guards!']],
    ];
    for (const [name, apply, expected] of cases) {
      const { data, error, status } = (await apply(anon.from('books').select('title'))) as { data: unknown; error: unknown; status: number };
      expect([name, error, status, titles(data)]).toEqual([name, null, 200, expected]);
    }
  });

  it('orders, pages with limit/range, and counts exactly, planned and estimated', async () => {
    const ordered = await anon.from('books').select('title,pages').order('pages', { ascending: false, nullsFirst: false });
    expect((ordered.data as Array<{ pages: number | null }>).map((r) => r.pages)).toEqual([387, 355, 183, null]);
    const nullsFirst = await anon.from('books').select('pages').order('pages', { ascending: true, nullsFirst: true });
    expect((nullsFirst.data as Array<{ pages: number | null }>).map((r) => r.pages)).toEqual([null, 183, 355, 387]);
    const multi = await anon.from('books').select('title').order('genre', { ascending: true }).order('title', { ascending: false }).limit(2);
    expect((multi.data as Array<{ title: string }>).map((r) => r.title)).toEqual(['Guards! Guards!', 'A Wizard of Earthsea']);

    const page = await anon.from('books').select('isbn', { count: 'exact' }).order('isbn').range(1, 2);
    expect(page.status).toBe(206);
    expect(page.count).toBe(4);
    expect((page.data as Array<{ isbn: string }>).map((r) => r.isbn)).toEqual(['isbn-2', 'isbn-3']);
    const head = await anon.from('books').select('*', { count: 'exact', head: true }).eq('genre', 'fantasy');
    expect([head.status, head.count, head.data]).toEqual([200, 2, null]);
    const planned = await anon.from('books').select('id', { count: 'planned', head: true });
    expect(typeof planned.count).toBe('number');
    const estimated = await anon.from('books').select('id', { count: 'estimated' }).limit(1);
    expect([estimated.status, estimated.count]).toEqual([206, 4]);
    const raw = await t.http().get(rest(t, p.ref, 'books?select=id&order=id')).set('apikey', p.publishable).set('range', '0-1').set('prefer', 'count=exact');
    expect(raw.status).toBe(206);
    expect(raw.headers['content-range']).toBe('0-1/4');
    const past = await t.http().get(rest(t, p.ref, 'books?offset=10')).set('apikey', p.publishable).set('prefer', 'count=exact');
    expect(past.status).toBe(416);
    expect(past.body.code).toBe('PGRST103');
  });

  it('returns single objects (and 406 PGRST116 when there is not exactly one)', async () => {
    const one = await anon.from('books').select('title').eq('isbn', 'isbn-3').single();
    expect([one.status, one.data]).toEqual([200, { title: 'Guards! Guards!' }]);
    const none = await anon.from('books').select('title').eq('isbn', 'nope').single();
    expect(none.status).toBe(406);
    expect(none.error).toMatchObject({ code: 'PGRST116', details: 'The result contains 0 rows' });
    const maybe = await anon.from('books').select('title').eq('isbn', 'nope').maybeSingle();
    expect([maybe.error, maybe.data]).toEqual([null, null]);
    const many = await anon.from('books').select('title').single();
    expect(many.error?.code).toBe('PGRST116');
  });

  it('rolls back a single-object write that touched more than one row', async () => {
    const before = await admin.from('books').select('title').eq('genre', 'fantasy');
    expect(before.data).toHaveLength(2);
    const upd = await admin.from('books').update({ genre: 'changed' }).eq('genre', 'fantasy').select('title').single();
    expect([upd.status, upd.error?.code]).toEqual([406, 'PGRST116']);
    const del = await admin.from('books').delete().eq('genre', 'fantasy').select('title').single();
    expect([del.status, del.error?.code]).toEqual([406, 'PGRST116']);
    const ins = await admin.from('books').insert([{ title: 'Twin 1' }, { title: 'Twin 2' }]).select('title').single();
    expect([ins.status, ins.error?.code]).toEqual([406, 'PGRST116']);
    expect(titles((await admin.from('books').select('title').eq('genre', 'fantasy')).data)).toEqual(titles(before.data));
    expect((await admin.from('books').select('title').like('title', 'Twin%')).data).toEqual([]);
  });

  it('selects with aliases, casts, JSON paths and embeds to-one and to-many relations', async () => {
    const { data, error } = await anon
      .from('books')
      .select('name:title, pages_text:pages::text, series:meta->>series, author:authors(name)')
      .eq('isbn', 'isbn-1')
      .single();
    expect(error).toBeNull();
    expect(data).toEqual({ name: 'A Wizard of Earthsea', pages_text: '183', series: 'Earthsea', author: { name: 'Ursula' } });
    const many = await anon.from('authors').select('name, books(title)').eq('name', 'Terry').order('title', { referencedTable: 'books' }).single();
    expect(many.data).toEqual({ name: 'Terry', books: [{ title: 'Draft' }, { title: 'Guards! Guards!' }] });
    const inner = await anon.from('authors').select('name, books!inner(title)').eq('books.genre', 'scifi');
    expect(inner.data).toEqual([{ name: 'Ursula', books: [{ title: 'The Dispossessed' }] }]);
    const empty = await anon.from('authors').select('name, books(title)').eq('name', 'Nobody');
    expect(empty.data).toEqual([{ name: 'Nobody', books: [] }]);
  });

  it('inserts, upserts, updates and deletes with returning', async () => {
    const ins = await admin.from('authors').insert({ name: 'Iain', email: 'iain@example.com' }).select().single();
    expect(ins.status).toBe(201);
    expect(ins.data).toMatchObject({ name: 'Iain', email: 'iain@example.com' });
    const id = (ins.data as { id: number }).id;
    const minimal = await admin.from('authors').insert({ name: 'Quiet' });
    expect([minimal.status, minimal.data]).toEqual([201, null]);

    const merge = await admin
      .from('authors')
      .upsert([{ email: 'iain@example.com', name: 'Iain M. Banks' }, { email: 'new@example.com', name: 'New' }], { onConflict: 'email' })
      .select('name,email');
    expect(merge.error).toBeNull();
    expect(merge.data).toEqual([{ name: 'Iain M. Banks', email: 'iain@example.com' }, { name: 'New', email: 'new@example.com' }]);
    const ignore = await admin.from('authors').upsert({ email: 'iain@example.com', name: 'Ignored' }, { onConflict: 'email', ignoreDuplicates: true }).select();
    expect(ignore.data).toEqual([]);
    expect((await admin.from('authors').select('name').eq('id', id).single()).data).toEqual({ name: 'Iain M. Banks' });

    const upd = await admin.from('authors').update({ name: 'Banks' }).eq('id', id).select('id,name');
    expect([upd.status, upd.data]).toEqual([200, [{ id, name: 'Banks' }]]);
    const updNone = await admin.from('authors').update({ name: 'x' }).eq('id', -1);
    expect([updNone.status, updNone.error]).toEqual([204, null]);
    const del = await admin.from('authors').delete().eq('email', 'new@example.com').select('name');
    expect(del.data).toEqual([{ name: 'New' }]);
    const delCount = await admin.from('authors').delete({ count: 'exact' }).in('name', ['Quiet', 'Banks']);
    expect(delCount.count).toBe(2);
  });

  it('answers with PostgREST error objects and statuses', async () => {
    const cases: Array<[string, () => PromiseLike<{ error: unknown; status: number }>, number, string]> = [
      ['unknown column', () => anon.from('books').select('nope'), 400, '42703'],
      ['unknown filter column', () => anon.from('books').select('id').eq('nope', 1), 400, '42703'],
      ['unknown table', () => anon.from('missing').select('*'), 404, 'PGRST205'],
      ['bad operator', () => anon.from('books').select('id').filter('pages', 'between', '1'), 400, 'PGRST100'],
      ['bad value', () => anon.from('books').select('id').eq('pages', 'many'), 400, '22P02'],
      ['not null', () => admin.from('authors').insert({ email: 'x@example.com' }), 400, '23502'],
      ['unique', () => admin.from('authors').insert({ name: 'Dup', email: 'terry@example.com' }), 409, '23505'],
      ['foreign key', () => admin.from('books').insert({ title: 'Orphan', author_id: 999999 }), 409, '23503'],
      ['unknown body column', () => admin.from('authors').insert({ name: 'x', nope: 1 }), 400, 'PGRST204'],
      ['no relationship', () => anon.from('authors').select('name, authors(name)'), 400, 'PGRST200'],
      ['anon write without a rule', () => anon.from('authors').insert({ name: 'Anon' }), 401, '42501'],
      ['on_conflict without a unique key', () => admin.from('books').upsert({ title: 'x' }, { onConflict: 'title' }), 400, '42P10'],
    ];
    for (const [name, run, status, code] of cases) {
      const res = await run();
      expect([name, res.status, (res.error as { code?: string } | null)?.code]).toEqual([name, status, code]);
      expect(Object.keys(res.error as object).sort()).toEqual(expect.arrayContaining(['code', 'details', 'hint', 'message']));
    }
    const raw = await t.http().get(rest(t, p.ref, 'books?select=nope')).set('apikey', p.publishable);
    expect(raw.body).toEqual({ code: '42703', message: 'column books.nope does not exist', details: null, hint: null });
    expect(JSON.stringify(raw.body)).not.toContain(`t_${p.ref}`);
  });

  it('refuses a filterless PATCH or DELETE with 400 21000 for every key, the secret one included', async () => {
    await putRules(t, u, p, 'authors', [{ role: 'anon', action: ['read', 'update', 'delete'] }]);
    const patch = await anon.from('authors').update({ name: 'everyone' }).neq('id', -1).select('id');
    expect(patch.error).toBeNull();
    await admin.from('authors').update({ name: 'Ursula' }).eq('id', authorIds.Ursula);
    await admin.from('authors').update({ name: 'Terry' }).eq('id', authorIds.Terry);
    await admin.from('authors').update({ name: 'Nobody' }).eq('id', authorIds.Nobody);
    const res = await t.http().patch(rest(t, p.ref, 'authors')).set('apikey', p.publishable).send({ name: 'all' });
    expect([res.status, res.body.code]).toEqual([400, '21000']);
    const del = await t.http().delete(rest(t, p.ref, 'authors')).set('apikey', p.publishable);
    expect(del.status).toBe(400);
    expect((await anon.from('authors').select('name').order('id')).data).toEqual([{ name: 'Ursula' }, { name: 'Terry' }, { name: 'Nobody' }]);
    // The secret key too; every row on purpose takes a filter that is always true (here: a no-op update of every row).
    const refused = await t.http().patch(rest(t, p.ref, 'books')).set('apikey', p.secret).send({ published: true });
    expect([refused.status, refused.body.code]).toEqual([400, '21000']);
    const deleteAll = await t.http().delete(rest(t, p.ref, 'books')).set('apikey', p.secret);
    expect([deleteAll.status, deleteAll.body.code]).toEqual([400, '21000']);
    const all = await t.http().patch(rest(t, p.ref, 'books?id=not.is.null')).set('apikey', p.secret).set('prefer', 'count=exact').send({ published: true });
    expect([all.status, all.headers['content-range']]).toEqual([204, '0-3/4']);
    await putRules(t, u, p, 'authors', [{ role: 'anon', action: 'read' }]);
  });

  it('serves the per-project OpenAPI document: complete with the secret key, limited with the publishable key', async () => {
    const full = await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret);
    expect(full.status).toBe(200);
    expect(full.body).toMatchObject({ swagger: '2.0', basePath: `/p/${p.ref}/rest/v1` });
    expect(Object.keys(full.body.paths).sort()).toEqual(['/authors', '/books']);
    expect(Object.keys(full.body.paths['/authors']).sort()).toEqual(['delete', 'get', 'patch', 'post']);
    expect(full.body.definitions.books.properties.author_id.description).toContain("<fk table='authors' column='id'/>");
    expect(full.body.definitions.books.properties.price).toMatchObject({ type: 'number', format: 'numeric' });
    expect(full.body.definitions.authors.required).toEqual(['name']);
    const limited = await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.publishable);
    expect(Object.keys(limited.body.paths['/authors'])).toEqual(['get']);
  });
});
