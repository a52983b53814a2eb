import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, signUserToken, registerTestTokens, supabase } from '../support/data';

/**
 * PostgREST parity, writes: each case is what PostgREST (v12/13) answers for the same request — status, headers and
 * body — through the real supabase-js client and raw HTTP, against tables declared through the management API.
 */
describe('PostgREST parity: writes', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  let admin: SupabaseClient;

  const http = () => t.http();
  const asSecret = (req: ReturnType<ReturnType<TestApp['http']>['get']>, project = p) => req.set('apikey', project.secret);

  beforeAll(async () => {
    t = await bootTestApp();
    registerTestTokens(t);
    u = await signup(t, 'parity-writes');
    p = await createProject(t, u, 'parity-writes');
    other = await createProject(t, u, 'parity-other');
    await declareTable(t, u, p, {
      name: 'items',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'name', type: 'text', nullable: false },
        { name: 'qty', type: 'int4', default: 7 },
        { name: 'note', type: 'text' },
      ],
    });
    await declareTable(t, u, p, {
      name: 'tags',
      columns: [
        { name: 'slug', type: 'text', primary_key: true },
        { name: 'label', type: 'text' },
      ],
    });
    await declareTable(t, u, other, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'name', type: 'text' }] });
    admin = supabase(t, p.ref, p.secret);
  });
  afterAll(() => t.close());

  describe('upsert status (resolution=merge-duplicates)', () => {
    it('answers 201 when a row was inserted and 200 when every row already existed', async () => {
      const first = await admin.from('tags').upsert([{ slug: 'a', label: 'A' }, { slug: 'b', label: 'B' }]).select();
      expect([first.status, first.error]).toEqual([201, null]);
      const again = await admin.from('tags').upsert([{ slug: 'a', label: 'A2' }, { slug: 'b', label: 'B2' }]).select();
      expect([again.status, again.error, again.data]).toEqual([200, null, [{ slug: 'a', label: 'A2' }, { slug: 'b', label: 'B2' }]]);
      const mixed = await admin.from('tags').upsert([{ slug: 'a', label: 'A3' }, { slug: 'c', label: 'C' }]).select();
      expect(mixed.status).toBe(201);
      const raw = await asSecret(http().post(rest(t, p.ref, 'tags')))
        .set('prefer', 'resolution=merge-duplicates')
        .send([{ slug: 'a', label: 'A4' }]);
      expect([raw.status, raw.headers['preference-applied'], raw.headers['content-type'], raw.text]).toEqual([200, 'resolution=merge-duplicates', undefined, '']);
    });

    it('keeps 201 for ignore-duplicates, as PostgREST does', async () => {
      const res = await asSecret(http().post(rest(t, p.ref, 'tags'))).set('prefer', 'resolution=ignore-duplicates').send([{ slug: 'a', label: 'ignored' }]);
      expect([res.status, res.headers['preference-applied']]).toEqual([201, 'resolution=ignore-duplicates']);
    });
  });

  describe('Prefer: missing=default', () => {
    it('evaluates column defaults for every row, so the identity sequence advances once per row as on PostgREST', async () => {
      const start = await admin.from('items').insert({ name: 'seed' }).select('id').single();
      const base = (start.data as { id: number }).id;
      const res = await asSecret(http().post(rest(t, p.ref, 'items?columns=id,name,qty')))
        .set('prefer', 'missing=default, return=representation')
        .send([{ name: 'first' }, { id: 1000, name: 'explicit' }, { name: 'third', qty: 1 }]);
      expect(res.status).toBe(201);
      expect(res.headers['preference-applied']).toBe('missing=default, return=representation');
      // PostgREST builds the defaults for every element (jsonb_build_object(…, nextval(…)) || elem): the row with an
      // explicit id still takes a sequence value, so the third row gets base + 3.
      expect(res.body).toEqual([
        { id: base + 1, name: 'first', qty: 7, note: null },
        { id: 1000, name: 'explicit', qty: 7, note: null },
        { id: base + 3, name: 'third', qty: 1, note: null },
      ]);
      const next = await admin.from('items').insert({ name: 'after' }).select('id').single();
      expect((next.data as { id: number }).id).toBe(base + 4);
    });

    it('without it, missing keys are NULL (missing=null is the default)', async () => {
      const res = await asSecret(http().post(rest(t, p.ref, 'items?columns=name,qty'))).set('prefer', 'return=representation').send([{ name: 'nulls' }]);
      expect([res.status, res.body[0].qty]).toEqual([201, null]);
    });
  });

  describe('Prefer: handling=strict, max-affected', () => {
    beforeAll(async () => {
      await admin.from('items').insert([{ name: 'bulk', qty: 1 }, { name: 'bulk', qty: 2 }, { name: 'bulk', qty: 3 }]);
    });

    it('refuses a PATCH touching more rows than max-affected with PGRST124 and rolls it back', async () => {
      const res = await asSecret(http().patch(rest(t, p.ref, 'items?name=eq.bulk'))).set('prefer', 'handling=strict, max-affected=2').send({ note: 'changed' });
      expect([res.status, res.body]).toEqual([
        400,
        { code: 'PGRST124', message: 'Query result exceeds max-affected preference constraint', details: 'The query affects 3 rows', hint: null },
      ]);
      const check = await admin.from('items').select('note').eq('name', 'bulk');
      expect((check.data as Array<{ note: string | null }>).every((r) => r.note === null)).toBe(true);
    });

    it('refuses a DELETE the same way, and commits within the limit with Preference-Applied', async () => {
      const tooMany = await asSecret(http().delete(rest(t, p.ref, 'items?name=eq.bulk'))).set('prefer', 'handling=strict, max-affected=1');
      expect([tooMany.status, tooMany.body.code]).toEqual([400, 'PGRST124']);
      expect((await admin.from('items').select('id', { count: 'exact', head: true }).eq('name', 'bulk')).count).toBe(3);
      const ok = await asSecret(http().patch(rest(t, p.ref, 'items?name=eq.bulk&qty=eq.1'))).set('prefer', 'handling=strict, max-affected=1').send({ note: 'one' });
      expect([ok.status, ok.headers['preference-applied'], ok.headers['content-type']]).toEqual([204, 'handling=strict, max-affected=1', undefined]);
    });

    it('ignores max-affected without handling=strict, as PostgREST does', async () => {
      const res = await asSecret(http().patch(rest(t, p.ref, 'items?name=eq.bulk'))).set('prefer', 'max-affected=1').send({ note: 'lenient' });
      expect([res.status, res.headers['preference-applied']]).toEqual([204, undefined]);
    });

    it('refuses unknown preferences with handling=strict (PGRST122)', async () => {
      const res = await asSecret(http().get(rest(t, p.ref, 'items'))).set('prefer', 'handling=strict, nonsense=1');
      expect([res.status, res.body]).toEqual([400, { code: 'PGRST122', message: 'Invalid preferences given with handling=strict', details: 'Invalid preferences: nonsense=1', hint: null }]);
    });
  });

  describe('Prefer: tx=rollback (project setting tx_end)', () => {
    it('is ignored while the project does not allow it (the default), and the write commits', async () => {
      const res = await asSecret(http().post(rest(t, p.ref, 'tags'))).set('prefer', 'tx=rollback, return=representation').send({ slug: 'kept' });
      expect([res.status, res.headers['preference-applied']]).toEqual([201, 'return=representation']);
      expect((await admin.from('tags').select('slug').eq('slug', 'kept')).data).toEqual([{ slug: 'kept' }]);
    });

    it('rolls back with the answer PostgREST gives once the project allows overrides', async () => {
      const settings = await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set(u.auth).send({ tx_end: 'commit-allow-override' });
      expect([settings.status, settings.body]).toEqual([200, { tx_end: 'commit-allow-override', aggregates: true }]);
      const res = await asSecret(http().post(rest(t, p.ref, 'tags'))).set('prefer', 'tx=rollback, return=representation').send({ slug: 'gone', label: 'x' });
      expect([res.status, res.headers['preference-applied'], res.body]).toEqual([201, 'return=representation, tx=rollback', [{ slug: 'gone', label: 'x' }]]);
      expect((await admin.from('tags').select('slug').eq('slug', 'gone')).data).toEqual([]);
      const commit = await asSecret(http().post(rest(t, p.ref, 'tags'))).set('prefer', 'tx=commit').send({ slug: 'committed' });
      expect([commit.status, commit.headers['preference-applied']]).toEqual([201, 'tx=commit']);
      expect((await admin.from('tags').select('slug').eq('slug', 'committed')).data).toEqual([{ slug: 'committed' }]);
    });

    it('settings are validated, and another project or an anonymous caller cannot change them', async () => {
      const bad = await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set(u.auth).send({ tx_end: 'sometimes' });
      expect(bad.status).toBe(400);
      const stranger = await signup(t, 'parity-stranger');
      const denied = await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set(stranger.auth).send({ tx_end: 'commit' });
      expect(denied.status).toBe(404);
      const otherKey = await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set('apikey', other.secret).send({ tx_end: 'commit' });
      expect(otherKey.status).toBe(401);
      expect((await t.http().get(`/v1/projects/${p.ref}/data-settings`).set(u.auth)).body.tx_end).toBe('commit-allow-override');
    });
  });

  describe('return=minimal answers', () => {
    it('201 and 204 carry no Content-Type and no body', async () => {
      const ins = await asSecret(http().post(rest(t, p.ref, 'items'))).send({ name: 'minimal' });
      expect([ins.status, ins.headers['content-type'], ins.text, ins.headers['content-range']]).toEqual([201, undefined, '', '*/*']);
      const del = await asSecret(http().delete(rest(t, p.ref, 'items?name=eq.minimal')));
      expect([del.status, del.headers['content-type'], del.text]).toEqual([204, undefined, '']);
      const rep = await asSecret(http().post(rest(t, p.ref, 'items'))).set('prefer', 'return=representation').send({ name: 'rep' });
      expect(rep.headers['content-type']).toBe('application/json; charset=utf-8');
    });
  });

  describe('isolation', () => {
    it('an end user cannot use tx=rollback to probe rows the rules hide, and max-affected counts only their rows', async () => {
      await putRules(t, u, p, 'items', [{ role: 'authenticated', action: ['read', 'update'], where: { note: 'mine' } }]);
      await admin.from('items').insert([{ name: 'u1', note: 'mine' }, { name: 'u2', note: 'theirs' }]);
      const token = await signUserToken(p.ref, '00000000-0000-4000-8000-000000000001');
      const user = (req: ReturnType<ReturnType<TestApp['http']>['get']>) => req.set('apikey', p.publishable).set('authorization', `Bearer ${token}`);
      const res = await user(http().patch(rest(t, p.ref, 'items?name=in.(u1,u2)'))).set('prefer', 'handling=strict, max-affected=1, return=representation').send({ qty: 9 });
      expect([res.status, res.body.map((r: { name: string }) => r.name)]).toEqual([200, ['u1']]);
      const theirs = await admin.from('items').select('qty').eq('name', 'u2').single();
      expect((theirs.data as { qty: number | null }).qty).not.toBe(9);
    });

    it("one project's settings and data stay its own: another project's key sees its own empty table", async () => {
      const res = await http().get(rest(t, other.ref, 'items?select=name')).set('apikey', other.secret);
      expect([res.status, res.body]).toEqual([200, []]);
      const rollback = await http().post(rest(t, other.ref, 'items')).set('apikey', other.secret).set('prefer', 'tx=rollback').send({ id: 1, name: 'x' });
      // The other project never allowed overrides: its write commits and no tx preference is applied.
      expect([rollback.status, rollback.headers['preference-applied']]).toEqual([201, undefined]);
    });
  });
});
