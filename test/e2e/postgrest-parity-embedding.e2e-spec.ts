import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, supabase } from '../support/data';

/**
 * PostgREST parity, embedding: by foreign-key name from either side, many-to-many through a junction table,
 * self-references, ambiguity (PGRST201 with its details array), the same embed twice, and spreads — each with the
 * status and body PostgREST gives, through supabase-js and raw HTTP.
 */
describe('PostgREST parity: embedding', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  let admin: SupabaseClient;
  let anon: SupabaseClient;

  const get = (path: string, key = p.publishable) => t.http().get(rest(t, p.ref, path)).set('apikey', key);

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'parity-embed');
    p = await createProject(t, u, 'parity-embed');
    other = await createProject(t, u, 'parity-embed-other');
    await declareTable(t, u, p, { name: 'people', columns: [{ name: 'id', type: 'int4', primary_key: true }, { name: 'name', type: 'text' }, { name: 'private', type: 'bool', default: false }] });
    await declareTable(t, u, p, {
      name: 'friendships',
      columns: [
        { name: 'id', type: 'int4', primary_key: true },
        { name: 'first_person', type: 'int4', references: { table: 'people', column: 'id' } },
        { name: 'second_person', type: 'int4', references: { table: 'people', column: 'id' } },
      ],
    });
    await declareTable(t, u, p, { name: 'products', columns: [{ name: 'id', type: 'int4', primary_key: true }, { name: 'name', type: 'text' }] });
    await declareTable(t, u, p, { name: 'categories', columns: [{ name: 'id', type: 'int4', primary_key: true }, { name: 'name', type: 'text' }] });
    await declareTable(t, u, p, {
      name: 'product_categories',
      columns: [
        { name: 'product_id', type: 'int4', primary_key: true, references: { table: 'products', column: 'id' } },
        { name: 'category_id', type: 'int4', primary_key: true, references: { table: 'categories', column: 'id' } },
        { name: 'hidden', type: 'bool', default: false },
      ],
    });
    await declareTable(t, u, p, {
      name: 'collections',
      columns: [
        { name: 'id', type: 'int4', primary_key: true },
        { name: 'name', type: 'text' },
        { name: 'parent_id', type: 'int4', references: { table: 'collections', column: 'id' } },
      ],
    });
    for (const table of ['people', 'friendships', 'products', 'categories', 'collections']) await putRules(t, u, p, table, [{ role: 'anon', action: 'read' }]);
    await putRules(t, u, p, 'people', [{ role: 'anon', action: 'read', where: { private: false } }]);
    await putRules(t, u, p, 'product_categories', [{ role: 'anon', action: 'read', where: { hidden: false } }]);
    await declareTable(t, u, other, { name: 'people', columns: [{ name: 'id', type: 'int4', primary_key: true }, { name: 'name', type: 'text' }] });
    admin = supabase(t, p.ref, p.secret);
    anon = supabase(t, p.ref, p.publishable);
    const ok = (r: { error: unknown }) => expect(r.error).toBeNull();
    ok(await admin.from('people').insert([{ id: 1, name: 'Ann' }, { id: 2, name: 'Bob' }, { id: 3, name: 'Cid', private: true }], { defaultToNull: false }));
    ok(await admin.from('friendships').insert([{ id: 1, first_person: 1, second_person: 2 }, { id: 2, first_person: 2, second_person: 3 }]));
    ok(await admin.from('products').insert([{ id: 1, name: 'Tea' }, { id: 2, name: 'Mug' }]));
    ok(await admin.from('categories').insert([{ id: 1, name: 'Drinks' }, { id: 2, name: 'Kitchen' }, { id: 3, name: 'Secret' }]));
    ok(await admin.from('product_categories').insert([{ product_id: 1, category_id: 1 }, { product_id: 1, category_id: 2 }, { product_id: 2, category_id: 2 }, { product_id: 2, category_id: 3, hidden: true }], { defaultToNull: false }));
    ok(await admin.from('collections').insert([{ id: 1, name: 'root' }, { id: 2, name: 'a', parent_id: 1 }, { id: 3, name: 'b', parent_id: 1 }]));
    await supabase(t, other.ref, other.secret).from('people').insert([{ id: 1, name: 'Other tenant' }]);
  });
  afterAll(() => t.close());

  describe('by foreign-key constraint name', () => {
    it('from the referencing side (to-one)', async () => {
      const res = await anon.from('friendships').select('id, first:friendships_first_person_fkey(name)').eq('id', 1).single();
      expect([res.error, res.data]).toEqual([null, { id: 1, first: { name: 'Ann' } }]);
    });

    it('from the referenced side (to-many)', async () => {
      const res = await anon.from('people').select('name, friends:friendships_first_person_fkey(id)').eq('id', 1).single();
      expect([res.error, res.data]).toEqual([null, { name: 'Ann', friends: [{ id: 1 }] }]);
    });
  });

  describe('ambiguity (PGRST201)', () => {
    it("answers 300 with details listing every candidate as {cardinality, embedding, relationship}", async () => {
      const res = await get('people?select=*,friendships(*)');
      expect([res.status, res.body]).toEqual([
        300,
        {
          code: 'PGRST201',
          message: "Could not embed because more than one relationship was found for 'people' and 'friendships'",
          details: [
            { cardinality: 'one-to-many', embedding: 'people with friendships', relationship: 'friendships_first_person_fkey using people(id) and friendships(first_person)' },
            { cardinality: 'one-to-many', embedding: 'people with friendships', relationship: 'friendships_second_person_fkey using people(id) and friendships(second_person)' },
          ],
          hint: "Try changing 'friendships' to one of the following: 'friendships!friendships_first_person_fkey', 'friendships!friendships_second_person_fkey'. Find the desired relationship in the 'details' key.",
        },
      ]);
      const viaClient = await anon.from('friendships').select('*, people(*)');
      expect([viaClient.status, viaClient.error?.code]).toEqual([300, 'PGRST201']);
    });

    it('the same embed twice at one level without aliases is refused; with aliases both come back', async () => {
      const dup = await get('friendships?select=id,people!first_person(name),people!second_person(name)');
      expect([dup.status, dup.body.code]).toEqual([400, 'PGRST100']);
      const aliased = await anon.from('friendships').select('id, a:people!first_person(name), b:people!second_person(name)').eq('id', 1).single();
      expect(aliased.data).toEqual({ id: 1, a: { name: 'Ann' }, b: { name: 'Bob' } });
    });
  });

  describe('many-to-many through a junction table', () => {
    it('embeds categories of products and products of categories', async () => {
      const res = await admin.from('products').select('name, categories(name)').order('id');
      expect([res.error, res.data]).toEqual([null, [{ name: 'Tea', categories: [{ name: 'Drinks' }, { name: 'Kitchen' }] }, { name: 'Mug', categories: [{ name: 'Kitchen' }, { name: 'Secret' }] }]]);
      const back = await admin.from('categories').select('name, products(name)').eq('id', 2).single();
      expect(back.data).toEqual({ name: 'Kitchen', products: [{ name: 'Tea' }, { name: 'Mug' }] });
      const hinted = await get('products?select=name,categories!product_categories(name)&id=eq.1');
      expect(hinted.status).toBe(200);
    });

    it("the junction table's rules apply: hidden links stay hidden", async () => {
      const res = await anon.from('products').select('name, categories(name)').eq('id', 2).single();
      expect(res.data).toEqual({ name: 'Mug', categories: [{ name: 'Kitchen' }] });
    });
  });

  describe('self-references', () => {
    it("the table's own name embeds the children; the key column embeds the parent", async () => {
      const children = await anon.from('collections').select('name, collections(name)').eq('id', 1).single();
      expect([children.error, children.data]).toEqual([null, { name: 'root', collections: [{ name: 'a' }, { name: 'b' }] }]);
      const parent = await anon.from('collections').select('name, parent:parent_id(name)').eq('id', 2).single();
      expect(parent.data).toEqual({ name: 'a', parent: { name: 'root' } });
    });
  });

  describe('spread embeds', () => {
    it('...rel(col) lifts a to-one embed into the parent row', async () => {
      const res = await anon.from('friendships').select('id, ...people!first_person(first_name:name)').order('id');
      expect([res.error, res.data]).toEqual([null, [{ id: 1, first_name: 'Ann' }, { id: 2, first_name: 'Bob' }]]);
    });

    it('...rel(col) over a to-many relationship gives each column as an array, in the embed order (PostgREST 13)', async () => {
      const res = await get('products?select=id,...categories(category:name)&order=id&categories.order=name.desc');
      expect([res.status, res.body]).toEqual([200, [{ id: 1, category: ['Kitchen', 'Drinks'] }, { id: 2, category: ['Kitchen'] }]]); // the hidden junction row keeps 'Secret' out
      const viaClient = await anon.from('people').select('name, ...friendships!friendships_first_person_fkey(friendship:id)').order('id');
      expect(viaClient.data).toEqual([{ name: 'Ann', friendship: [1] }, { name: 'Bob', friendship: [2] }]);
    });
  });

  describe('isolation', () => {
    it('embeds and spreads keep to the rules of the embedded table', async () => {
      const res = await anon.from('friendships').select('id, ...people!second_person(name)').eq('id', 2).single();
      expect(res.data).toEqual({ id: 2, name: null });
      const byName = await anon.from('people').select('name, friendships_second_person_fkey(id)').order('id');
      expect(byName.data).toEqual([{ name: 'Ann', friendships_second_person_fkey: [] }, { name: 'Bob', friendships_second_person_fkey: [{ id: 1 }] }]);
    });

    it("an embed can't name a system table, a table of another tenant or a foreign key that isn't declared", async () => {
      const cases: Array<[string, string]> = [
        ['_auth_users', 'PGRST200'],
        ['pg_class', 'PGRST200'],
        [`t_${other.ref}.people`, 'PGRST100'],
        ['people_pkey', 'PGRST200'],
        ['people_private_fkey', 'PGRST200'],
      ];
      for (const [rel, code] of cases) {
        const res = await get(`friendships?select=id,x:${rel}(*)`);
        expect([rel, res.status, res.body.code]).toEqual([rel, 400, code]);
        expect(JSON.stringify(res.body)).not.toContain('Other tenant');
      }
    });
  });
});
