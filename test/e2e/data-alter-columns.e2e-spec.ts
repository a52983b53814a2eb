import { addMember, bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, registerTestTokens, signUserToken, supabase } from '../support/data';

/**
 * PATCH /v1/projects/:ref/tables/:name with `alter_columns`: type (cast), nullable, default and unique of existing
 * columns, validated with every problem in one 400, refused by existing rows with nothing changed, and seen at once by
 * the REST runtime (supabase-js).
 */
describe('data runtime: altering columns (PATCH … alter_columns)', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  const table = (name: string) => `/v1/projects/${p.ref}/tables/${name}`;
  const patch = (name: string, body: object, who: Record<string, string> = u.auth) => t.http().patch(table(name)).set(who).send(body);
  const columnsInDb = async (name: string) =>
    (
      await t.sql.query(
        `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [`t_${p.ref}`, name],
      )
    ).rows;

  beforeAll(async () => {
    t = await bootTestApp();
    registerTestTokens(t);
    u = await signup(t, 'alter');
    p = await createProject(t, u, 'alter');
    await declareTable(t, u, p, {
      name: 'items',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'qty', type: 'text' },
        { name: 'label', type: 'text' },
        { name: 'code', type: 'text' },
      ],
    });
  });
  afterAll(() => t.close());

  it('casts text to integer over clean data (USING col::int4); supabase-js then reads and filters numbers', async () => {
    const db = supabase(t, p.ref, p.secret);
    expect((await db.from('items').insert([{ qty: '3', label: 'a', code: 'x1' }, { qty: '12', label: null, code: 'x2' }])).error).toBeNull();
    const res = await patch('items', { alter_columns: [{ name: 'qty', type: 'integer' }] });
    expect(res.status).toBe(200);
    expect(res.body.columns.find((c: { name: string }) => c.name === 'qty')).toMatchObject({ type: 'int4' });
    expect((await columnsInDb('items')).find((c) => c.column_name === 'qty').data_type).toBe('integer');
    const { data, error } = await db.from('items').select('qty').gt('qty', 5);
    expect(error).toBeNull();
    expect(data).toEqual([{ qty: 12 }]);
    // The REST runtime now checks the new type: a word is no longer a quantity.
    const bad = await db.from('items').insert({ qty: 'many' });
    expect(bad.error).not.toBeNull();
  });

  it('refuses a cast the rows fail (400 naming the column) and NOT NULL over nulls (409), changing nothing', async () => {
    const before = await columnsInDb('items');
    const cast = await patch('items', { alter_columns: [{ name: 'code', type: 'int4' }] });
    expect(cast.status).toBe(400);
    expect(cast.body.error.message).toContain('column "code"');
    expect(cast.body.error.details).toEqual([expect.objectContaining({ path: 'alter_columns.0.type' })]);
    // Two changes in one request, the second refused by the rows: the first is rolled back with it.
    const nn = await patch('items', { alter_columns: [{ name: 'code', unique: true }, { name: 'label', nullable: false }] });
    expect(nn.status).toBe(409);
    expect(nn.body.error.message).toContain('column "label"');
    expect(nn.body.error.details).toEqual([expect.objectContaining({ path: 'alter_columns.1.nullable' })]);
    expect(await columnsInDb('items')).toEqual(before);
    const stored = (await t.http().get(table('items')).set(u.auth)).body;
    expect(stored.columns.map((c: { name: string; nullable: boolean; unique: boolean }) => [c.name, c.nullable, c.unique])).toEqual([
      ['id', false, false],
      ['qty', true, false],
      ['label', true, false],
      ['code', true, false],
    ]);
    // supabase-js can still insert a row without a label.
    expect((await supabase(t, p.ref, p.secret).from('items').insert({ qty: 1, code: 'x3' })).error).toBeNull();
  });

  it('sets a default (visible on insert through supabase-js), then drops it', async () => {
    const db = supabase(t, p.ref, p.secret);
    const set = await patch('items', { alter_columns: [{ name: 'label', default: 'fresh' }] });
    expect(set.status).toBe(200);
    expect(set.body.columns.find((c: { name: string }) => c.name === 'label').default).toBe('fresh');
    const withDefault = await db.from('items').insert({ qty: 7, code: 'd1' }).select('label').single();
    expect(withDefault.error).toBeNull();
    expect(withDefault.data).toEqual({ label: 'fresh' });
    const drop = await patch('items', { alter_columns: [{ name: 'label', default: null }] });
    expect(drop.status).toBe(200);
    expect(drop.body.columns.find((c: { name: string }) => c.name === 'label')).not.toHaveProperty('default');
    const without = await db.from('items').insert({ qty: 8, code: 'd2' }).select('label').single();
    expect(without.data).toEqual({ label: null });
    expect((await columnsInDb('items')).find((c) => c.column_name === 'label').column_default).toBeNull();
  });

  it('adds a unique (duplicates then refused by supabase-js, upsert on it works), refuses it over duplicates, and drops it', async () => {
    const db = supabase(t, p.ref, p.secret);
    const add = await patch('items', { alter_columns: [{ name: 'code', unique: true }] });
    expect(add.status).toBe(200);
    expect(add.body.columns.find((c: { name: string }) => c.name === 'code').unique).toBe(true);
    const dup = await db.from('items').insert({ qty: 1, code: 'x1' });
    expect(dup.error?.code).toBe('23505');
    // The runtime's catalog knows the new unique: on_conflict=code is accepted.
    const up = await db.from('items').upsert({ qty: 99, code: 'x1' }, { onConflict: 'code' }).select('qty, code');
    expect(up.error).toBeNull();
    expect(up.data).toEqual([{ qty: 99, code: 'x1' }]);
    // Dropping it (found by what it covers, so also after a rename) lets duplicates in.
    expect((await patch('items', { rename_columns: [{ from: 'code', to: 'sku' }] })).status).toBe(200);
    expect((await patch('items', { alter_columns: [{ name: 'sku', unique: false }] })).status).toBe(200);
    expect((await db.from('items').insert({ qty: 2, sku: 'x1' })).error).toBeNull();
    // Now there are duplicates: a unique over them is a 409 naming the column.
    const again = await patch('items', { alter_columns: [{ name: 'sku', unique: true }] });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('column "sku"');
    expect((await t.http().get(table('items')).set(u.auth)).body.columns.find((c: { name: string }) => c.name === 'sku').unique).toBe(false);
  });

  it("lists every problem in one 400: unknown column, primary key nullability, defaults that don't fit the type, a column twice", async () => {
    const res = await patch('items', {
      alter_columns: [
        { name: 'nope', nullable: false },
        { name: 'id', nullable: true },
        { name: 'qty', type: 'bool', unique: true, default: 3 },
        { name: 'label', default: 'now()' },
        { name: 'sku', type: 'int4', default: 'abc' },
        { name: 'label', unique: true },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'alter_columns.0.name',
      'alter_columns.1.nullable',
      'alter_columns.2.default',
      'alter_columns.3.default',
      'alter_columns.4.default',
      'alter_columns.5.name',
    ]);
    // The request's shape is checked first, each problem listed too (as for a new table).
    const shape = await patch('items', { alter_columns: [{ name: 'Qty', type: 'money' }] });
    expect(shape.status).toBe(400);
    expect(shape.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['alter_columns.0.name', 'alter_columns.0.type']);
    for (const body of [{ alter_columns: [{ name: 'qty' }] }, { alter_columns: [{ name: 'qty', sql: 'x' }] }, { alter_columns: [{ name: 'id', default: null }] }]) {
      expect((await patch('items', body)).status).toBe(400);
    }
    // No cast between the types at all: a 400, not a 500.
    await declareTable(t, u, p, { name: 'tokens', columns: [{ name: 'id', type: 'uuid', primary_key: true, default: 'gen_random_uuid()' }, { name: 'ref', type: 'uuid' }] });
    const noCast = await patch('tokens', { alter_columns: [{ name: 'ref', type: 'int4' }] });
    expect(noCast.status).toBe(400);
    expect(noCast.body.error.message).toContain('column "ref"');
  });

  it('to varchar(n) refuses values longer than n (400) rather than cutting them; a wider one takes them', async () => {
    // "fresh" (5 characters) is in label since the default test.
    const narrow = await patch('items', { alter_columns: [{ name: 'label', type: 'varchar(3)' }] });
    expect(narrow.status).toBe(400);
    expect(narrow.body.error.message).toContain('column "label"');
    expect(narrow.body.error.message).toContain('too long');
    const wide = await patch('items', { alter_columns: [{ name: 'label', type: 'varchar(5)' }] });
    expect(wide.status).toBe(200);
    const { data } = await supabase(t, p.ref, p.secret).from('items').select('label').eq('label', 'fresh');
    expect(data).toEqual([{ label: 'fresh' }]);
  });

  it('keeps rules on an altered column working: owner_id text → uuid, the owner-only rule still filters', async () => {
    await declareTable(t, u, p, {
      name: 'notes',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'owner_id', type: 'text', default: 'auth.uid' },
        { name: 'body', type: 'text' },
      ],
    });
    await putRules(t, u, p, 'notes', [{ role: 'authenticated', action: ['read', 'create'], where: { owner_id: '$auth.uid' } }]);
    const alice = '6f1d1a9e-8d6a-4a43-9c39-0a0c2f1e1a01';
    const bob = '6f1d1a9e-8d6a-4a43-9c39-0a0c2f1e1a02';
    const asAlice = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, alice));
    expect((await asAlice.from('notes').insert({ body: 'mine' })).error).toBeNull();
    const res = await patch('notes', { alter_columns: [{ name: 'owner_id', type: 'uuid', nullable: false }] });
    expect(res.status).toBe(200);
    expect(res.body.columns.find((c: { name: string }) => c.name === 'owner_id')).toMatchObject({ type: 'uuid', nullable: false, default: 'auth.uid' });
    expect((await asAlice.from('notes').insert({ body: 'mine too' })).error).toBeNull();
    const asBob = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, bob));
    expect((await asBob.from('notes').insert({ body: 'bob' })).error).toBeNull();
    expect((await asAlice.from('notes').select('body').order('id')).data).toEqual([{ body: 'mine' }, { body: 'mine too' }]);
    expect((await asBob.from('notes').select('body')).data).toEqual([{ body: 'bob' }]);
  });

  it('isolation: a developer of another org gets 404, a viewer 403, another project\'s secret key 401; nothing changes', async () => {
    const before = await columnsInDb('items');
    const body = { alter_columns: [{ name: 'label', nullable: false, default: 'x' }] };
    const owner2 = await signup(t, 'alter-other');
    const dev = await signup(t, 'alter-dev');
    await addMember(t, owner2, dev, 'developer');
    const other = await createProject(t, owner2, 'alter-other');
    expect((await patch('items', body, dev.auth)).status).toBe(404);
    expect((await t.http().patch(table('items')).set('apikey', other.secret).send(body)).status).toBe(401);
    const viewer = await signup(t, 'alter-viewer');
    await addMember(t, u, viewer, 'viewer');
    expect((await patch('items', body, viewer.auth)).status).toBe(403);
    // A crafted table name reaches nothing.
    expect((await t.http().patch(`/v1/projects/${p.ref}/tables/${encodeURIComponent('items"; --')}`).set(u.auth).send(body)).status).toBe(404);
    expect((await t.http().patch(`/v1/projects/${other.ref}/tables/items`).set(owner2.auth).send(body)).status).toBe(404);
    expect(await columnsInDb('items')).toEqual(before);
  });
});
