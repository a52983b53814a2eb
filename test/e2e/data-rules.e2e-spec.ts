import { randomUUID } from 'node:crypto';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, registerTestTokens, rest, signUserToken, supabase } from '../support/data';

/**
 * Rules (CASL → SQL): anon vs authenticated vs secret, owner-only rows with signed end-user tokens, hidden columns,
 * restricted keys — and attempts to get around a rule with or=, embedding, hidden columns, on_conflict and Prefer.
 */
describe('data runtime: rules', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  const alice = randomUUID();
  const bob = randomUUID();
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    t = await bootTestApp();
    registerTestTokens(t);
    u = await signup(t, 'rules');
    p = await createProject(t, u, 'rules');
    await declareTable(t, u, p, { name: 'accounts', columns: [{ name: 'id', type: 'uuid', primary_key: true }, { name: 'email', type: 'text' }] });
    await declareTable(t, u, p, {
      name: 'notes',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'owner_id', type: 'uuid', default: 'auth.uid', references: { table: 'accounts', column: 'id' } },
        { name: 'title', type: 'text' },
        { name: 'secret', type: 'text' },
        { name: 'public', type: 'bool', default: false },
        { name: 'team', type: 'text' },
      ],
    });
    await declareTable(t, u, p, {
      name: 'comments',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'note_id', type: 'int8', references: { table: 'notes', column: 'id' } },
        { name: 'body', type: 'text' },
      ],
    });
    await putRules(t, u, p, 'notes', [
      { role: 'anon', action: 'read', where: { public: true }, columns: ['id', 'title', 'public'] },
      { role: 'authenticated', action: ['read', 'create', 'update', 'delete'], where: { owner_id: '$auth.uid' } },
      { role: 'authenticated', action: 'read', where: { team: '$auth.claims.team' } },
    ]);
    await putRules(t, u, p, 'comments', [{ role: 'anon', action: 'read' }, { role: 'authenticated', action: 'read' }]);
    const admin = supabase(t, p.ref, p.secret);
    await admin.from('accounts').insert([{ id: alice, email: 'alice@example.com' }, { id: bob, email: 'bob@example.com' }]).throwOnError();
    await admin
      .from('notes')
      .insert([
        { owner_id: alice, title: 'alice public', secret: 's-a1', public: true, team: 'red' },
        { owner_id: alice, title: 'alice private', secret: 's-a2', public: false, team: 'red' },
        { owner_id: bob, title: 'bob public', secret: 's-b1', public: true, team: 'blue' },
        { owner_id: bob, title: 'bob private', secret: 's-b2', public: false, team: 'blue' },
      ])
      .throwOnError();
    await admin.from('comments').insert([{ note_id: 2, body: 'on alice private' }, { note_id: 1, body: 'on alice public' }]).throwOnError();
    aliceToken = await signUserToken(p.ref, alice);
    bobToken = await signUserToken(p.ref, bob);
  });
  afterAll(() => t.close());

  const get = (path: string, key: string, token?: string) => {
    const req = t.http().get(rest(t, p.ref, path)).set('apikey', key);
    return token ? req.set('authorization', `Bearer ${token}`) : req;
  };

  it('anon sees only rows and columns its rule allows; the secret key sees everything', async () => {
    const anon = supabase(t, p.ref, p.publishable);
    const { data, count } = await anon.from('notes').select('*', { count: 'exact' }).order('id');
    expect(data).toEqual([
      { id: 1, title: 'alice public', public: true },
      { id: 3, title: 'bob public', public: true },
    ]);
    expect(count).toBe(2);
    const all = await supabase(t, p.ref, p.secret).from('notes').select('secret').order('id');
    expect(all.data).toHaveLength(4);
  });

  it('authenticated users see their own rows (and their team by claim), not others', async () => {
    const a = supabase(t, p.ref, p.publishable, aliceToken);
    expect((await a.from('notes').select('title').order('id')).data).toEqual([{ title: 'alice public' }, { title: 'alice private' }]);
    const b = supabase(t, p.ref, p.publishable, bobToken);
    expect((await b.from('notes').select('title, secret').order('id')).data).toEqual([
      { title: 'bob public', secret: 's-b1' },
      { title: 'bob private', secret: 's-b2' },
    ]);
    const redTeamStranger = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, randomUUID(), { team: 'red' }));
    expect((await redTeamStranger.from('notes').select('title').order('id')).data).toEqual([{ title: 'alice public' }, { title: 'alice private' }]);
    // A claim that is an object or missing matches nothing (it never turns into "IS NULL").
    const odd = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, randomUUID(), { team: { $ne: 'x' } }));
    expect((await odd.from('notes').select('title')).data).toEqual([]);
  });

  it('inserts take the caller as owner by default and must satisfy the create rule', async () => {
    const a = supabase(t, p.ref, p.publishable, aliceToken);
    const mine = await a.from('notes').insert({ title: 'new by alice' }).select('owner_id,title').single();
    expect(mine.data).toEqual({ owner_id: alice, title: 'new by alice' });
    const forged = await a.from('notes').insert({ title: 'as bob', owner_id: bob }).select();
    expect([forged.status, forged.error?.code, forged.error?.message]).toEqual([403, '42501', 'new row violates row-level security policy for table "notes"']);
    // Bulk: one bad row rolls back the whole statement.
    const bulk = await a.from('notes').insert([{ title: 'ok' }, { title: 'bad', owner_id: bob }]);
    expect(bulk.error?.code).toBe('42501');
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM "t_${p.ref}".notes WHERE title IN ('as bob', 'ok', 'bad')`);
    expect(rows[0].n).toBe(0);
    // Anonymous inserts don't get anyone's id: no create rule for anon at all.
    const anon = await supabase(t, p.ref, p.publishable).from('notes').insert({ title: 'anon' });
    expect([anon.status, anon.error?.code]).toEqual([401, '42501']);
  });

  it("can't update or delete another user's rows, nor hand a row to someone else", async () => {
    const a = supabase(t, p.ref, p.publishable, aliceToken);
    const upd = await a.from('notes').update({ title: 'pwned' }).eq('id', 3).select();
    expect([upd.error, upd.data]).toEqual([null, []]);
    const del = await a.from('notes').delete().eq('id', 4).select();
    expect([del.error, del.data]).toEqual([null, []]);
    const give = await a.from('notes').update({ owner_id: bob }).eq('id', 2);
    expect(give.error?.code).toBe('42501');
    const { rows } = await t.sql.query(`SELECT id, title, owner_id FROM "t_${p.ref}".notes WHERE id IN (2, 3, 4) ORDER BY id`);
    expect(rows).toEqual([
      { id: '2', title: 'alice private', owner_id: alice },
      { id: '3', title: 'bob public', owner_id: bob },
      { id: '4', title: 'bob private', owner_id: bob },
    ]);
  });

  it('or= and and= are AND-ed with the rule, never replace it', async () => {
    for (const q of ['or=(public.eq.false,public.eq.true)', 'or=(id.gt.0)', 'not.and=(public.eq.true)', 'or=(public.is.null,public.is.false)', 'public=eq.false']) {
      const res = await get(`notes?select=id&${q}`, p.publishable);
      expect([q, res.status]).toEqual([q, 200]);
      expect(res.body.every((r: { id: number }) => r.id === 1 || r.id === 3)).toBe(true);
    }
    const bobVsAlice = await get('notes?select=id&or=(owner_id.eq.' + alice + ',id.gt.0)', p.publishable, bobToken);
    expect(bobVsAlice.body.map((r: { id: number }) => r.id).sort()).toEqual([3, 4]);
  });

  it('hidden columns stay hidden in select, filters, order, or=, JSON paths and representation', async () => {
    for (const q of ['select=secret', 'select=id,s:secret', 'select=secret::text', 'secret=eq.s-a1', 'order=secret', 'or=(secret.eq.s-a2)', 'select=id&secret=like.s*', 'select=owner_id']) {
      const res = await get(`notes?${q}`, p.publishable);
      expect([q, res.status, res.body.code]).toEqual([q, 400, '42703']);
    }
    // `*` expands to visible columns only; count never counts hidden rows.
    const star = await get('notes?select=*', p.publishable).set('prefer', 'count=exact');
    expect(Object.keys(star.body[0]).sort()).toEqual(['id', 'public', 'title']);
    expect(star.headers['content-range']).toBe('0-1/2');
  });

  it("embedding can't reach tables or rows the caller's rules don't allow", async () => {
    const noRules = await get('notes?select=id,owner:accounts(email)', p.publishable);
    expect([noRules.status, noRules.body.code]).toEqual([401, '42501']);
    const inner = await get('notes?select=id,accounts!inner(email)', p.publishable, aliceToken);
    expect([inner.status, inner.body.code]).toEqual([403, '42501']);
    // comments are public, but embedding a note from them applies the notes rule to the embedded rows.
    const up = await get('comments?select=body,notes(title,public)&order=id', p.publishable);
    expect(up.body).toEqual([
      { body: 'on alice private', notes: null },
      { body: 'on alice public', notes: { title: 'alice public', public: true } },
    ]);
    const hiddenInEmbed = await get('comments?select=body,notes(secret)', p.publishable);
    expect(hiddenInEmbed.body.code).toBe('42703');
    const filterEmbed = await get('comments?select=body,notes!inner(title)&notes.public=eq.false', p.publishable);
    expect(filterEmbed.body).toEqual([]);
  });

  it("on_conflict and Prefer tricks can't overwrite or reveal someone else's row", async () => {
    const a = supabase(t, p.ref, p.publishable, aliceToken);
    const merge = await a.from('notes').upsert({ id: 4, title: 'taken over' }, { onConflict: 'id' }).select();
    expect(merge.error?.code).toBe('42501');
    const ignore = await a.from('notes').upsert({ id: 4, title: 'taken over' }, { onConflict: 'id', ignoreDuplicates: true }).select();
    expect([ignore.error, ignore.data]).toEqual([null, []]);
    const onConflictHidden = await t
      .http()
      .post(rest(t, p.ref, 'notes?on_conflict=id'))
      .set('apikey', p.publishable)
      .set('prefer', 'resolution=merge-duplicates,return=representation')
      .send({ id: 3, title: 'anon upsert' });
    expect(onConflictHidden.body.code).toBe('42501');
    // return=representation only ever returns what the caller may read.
    const rep = await t
      .http()
      .post(rest(t, p.ref, 'notes?select=id,title,secret'))
      .set('apikey', p.publishable)
      .set('authorization', `Bearer ${aliceToken}`)
      .set('prefer', 'return=representation,missing=default,tx=commit')
      .send({ title: 'rep', secret: 'mine' });
    expect(rep.status).toBe(201);
    expect(rep.body[0]).toMatchObject({ title: 'rep', secret: 'mine' });
    const { rows } = await t.sql.query(`SELECT title FROM "t_${p.ref}".notes WHERE id IN (3, 4) ORDER BY id`);
    expect(rows.map((r) => r.title)).toEqual(['bob public', 'bob private']);
  });

  it('a table without rules is reachable only with the secret key', async () => {
    expect((await get('accounts', p.publishable)).status).toBe(401);
    expect((await get('accounts', p.publishable, aliceToken)).status).toBe(403);
    expect((await get('accounts', p.secret)).body).toHaveLength(2);
  });

  it('refuses tokens of another project, expired or unsigned ones', async () => {
    const other = await createProject(t, u, 'other');
    for (const token of [await signUserToken(other.ref, alice), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', aliceToken.slice(0, -3) + 'abc']) {
      expect((await get('notes', p.publishable, token)).status).toBe(401);
    }
  });

  it('rule changes apply at once; bad rules are refused', async () => {
    await putRules(t, u, p, 'comments', [{ role: 'anon', action: 'read', where: { body: { $in: ['on alice public'] } } }, { role: 'authenticated', action: 'read' }]);
    expect((await get('comments?select=body', p.publishable)).body).toEqual([{ body: 'on alice public' }]);
    const bad = [
      [{ role: 'anon', action: 'read', where: { nope: 1 } }],
      [{ role: 'anon', action: 'read', where: { body: '$auth.password' } }],
      [{ role: 'anon', action: 'read', where: { body: { $regex: '.*' } } }],
      [{ role: 'service', action: 'read' }],
      [{ role: 'anon', action: 'drop' }],
      [{ role: 'anon', action: 'read', columns: ['id'] }, { role: 'anon', action: 'read', where: { id: 1 } }],
    ];
    for (const rules of bad) {
      const res = await t.http().put(`/v1/projects/${p.ref}/tables/comments/rules`).set(u.auth).send(rules);
      expect([JSON.stringify(rules), res.status]).toEqual([JSON.stringify(rules), 400]);
    }
    await putRules(t, u, p, 'comments', [{ role: 'anon', action: 'read' }, { role: 'authenticated', action: 'read' }]);
  });

  it("restricted keys: only their tables, and read_only can't write", async () => {
    const mk = async (body: object) => (await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'restricted', name: 'r', ...body })).body.key as string;
    const notesOnly = await mk({ scopes: ['rest:*'], tables: ['notes'] });
    expect((await get('notes?select=secret', notesOnly)).body).toHaveLength(6);
    const other = await get('comments', notesOnly);
    // Refused by the edge's key resolver, which judges the addressed table with the key's other restrictions.
    expect([other.status, other.body.code]).toEqual([403, 'forbidden']);
    expect((await get('comments?select=id,notes(id)', notesOnly)).status).toBe(403);
    expect((await get('notes?select=id,comments(id)', notesOnly)).status).toBe(403);
    const w = await t.http().post(rest(t, p.ref, 'comments')).set('apikey', notesOnly).send({ body: 'x' });
    expect(w.status).toBe(403);
    const ok = await t.http().patch(rest(t, p.ref, 'notes?id=eq.1')).set('apikey', notesOnly).send({ title: 'alice public' });
    expect(ok.status).toBe(204);
    // A filterless change is refused for restricted keys too.
    expect((await t.http().delete(rest(t, p.ref, 'notes')).set('apikey', notesOnly)).status).toBe(400);

    const readOnly = await mk({ scopes: ['rest:*'], read_only: true });
    expect((await get('comments', readOnly)).status).toBe(200);
    expect((await t.http().post(rest(t, p.ref, 'comments')).set('apikey', readOnly).send({ body: 'x' })).status).toBe(403);
    expect((await t.http().delete(rest(t, p.ref, 'comments?id=eq.1')).set('apikey', readOnly)).status).toBe(403);
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM "t_${p.ref}".comments`);
    expect(rows[0].n).toBe(2);
  });
});
