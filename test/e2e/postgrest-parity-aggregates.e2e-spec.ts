import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, supabase } from '../support/data';

/**
 * PostgREST parity, aggregates in `select`: count(), col.sum()/avg()/min()/max() with implicit grouping, inside
 * embeds (`todos(count)`), the project setting that switches them off (PGRST123), and the rules still applying.
 */
describe('PostgREST parity: aggregates', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let admin: SupabaseClient;
  let anon: SupabaseClient;

  const get = (path: string, key = p.publishable) => t.http().get(rest(t, p.ref, path)).set('apikey', key);

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'parity-agg');
    p = await createProject(t, u, 'parity-agg');
    await declareTable(t, u, p, { name: 'users', columns: [{ name: 'id', type: 'int4', primary_key: true }, { name: 'name', type: 'text' }] });
    await declareTable(t, u, p, {
      name: 'todos',
      columns: [
        { name: 'id', type: 'int4', primary_key: true },
        { name: 'user_id', type: 'int4', references: { table: 'users', column: 'id' } },
        { name: 'status', type: 'text' },
        { name: 'points', type: 'int4' },
        { name: 'secret', type: 'bool', default: false },
      ],
    });
    await putRules(t, u, p, 'users', [{ role: 'anon', action: 'read' }]);
    await putRules(t, u, p, 'todos', [{ role: 'anon', action: 'read', columns: ['id', 'user_id', 'status', 'points'], where: { secret: false } }]);
    admin = supabase(t, p.ref, p.secret);
    anon = supabase(t, p.ref, p.publishable);
    expect((await admin.from('users').insert([{ id: 1, name: 'Ann' }, { id: 2, name: 'Bob' }])).error).toBeNull();
    const todos = await admin.from('todos').insert(
      [
        { id: 1, user_id: 1, status: 'open', points: 3 },
        { id: 2, user_id: 1, status: 'done', points: 5 },
        { id: 3, user_id: 2, status: 'open', points: 1 },
        { id: 4, user_id: 2, status: 'open', points: 100, secret: true },
      ],
      { defaultToNull: false },
    );
    expect(todos.error).toBeNull();
  });
  afterAll(() => t.close());

  describe('count() and column aggregates', () => {
    it('count() over the visible rows', async () => {
      const res = await anon.from('todos').select('count()');
      expect([res.status, res.data]).toEqual([200, [{ count: 3 }]]);
    });

    it('sum, avg, min, max with aliases and a result cast', async () => {
      const res = await anon.from('todos').select('points.sum(), points.min(), points.max(), average:points.avg()::int');
      expect(res.data).toEqual([{ sum: 9, min: 1, max: 5, average: 3 }]);
    });

    it('groups implicitly by the other fields', async () => {
      const res = await get('todos?select=status,count(),points.sum()&order=status');
      expect([res.status, res.body]).toEqual([200, [{ status: 'done', count: 1, sum: 5 }, { status: 'open', count: 2, sum: 4 }]]);
    });

    it('inside embeds: todos(count) and todos(status, count())', async () => {
      const res = await anon.from('users').select('name, todos(count)').order('id');
      expect([res.error, res.data]).toEqual([null, [{ name: 'Ann', todos: [{ count: 2 }] }, { name: 'Bob', todos: [{ count: 1 }] }]]);
      const grouped = await get('users?select=name,todos(status,count())&id=eq.1&todos.order=status');
      expect(grouped.body).toEqual([{ name: 'Ann', todos: [{ status: 'done', count: 1 }, { status: 'open', count: 1 }] }]);
    });
  });

  describe('the project setting', () => {
    it('answers PGRST123 once aggregates are switched off, and plain selects still work', async () => {
      const off = await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set(u.auth).send({ aggregates: false });
      expect(off.body).toEqual({ tx_end: 'commit', aggregates: false });
      const res = await get('todos?select=count()');
      expect([res.status, res.body]).toEqual([400, { code: 'PGRST123', message: 'Use of aggregate functions is not allowed', details: null, hint: null }]);
      expect((await get('users?select=name,todos(count)')).body.code).toBe('PGRST123');
      expect((await get('todos?select=id')).status).toBe(200);
      await t.http().patch(`/v1/projects/${p.ref}/data-settings`).set(u.auth).send({ aggregates: true });
      expect((await get('todos?select=count()')).status).toBe(200);
    });
  });

  describe('isolation', () => {
    it('aggregates count only rows the rules let through, also inside embeds', async () => {
      const sum = await get('todos?select=points.sum()&user_id=eq.2');
      expect(sum.body).toEqual([{ sum: 1 }]);
      const embedded = await get('users?select=name,todos(points.max())&id=eq.2');
      expect(embedded.body).toEqual([{ name: 'Bob', todos: [{ max: 1 }] }]);
    });

    it('a hidden column cannot be aggregated, and an aggregate cannot name SQL', async () => {
      const hidden = await get('todos?select=secret.count()');
      expect([hidden.status, hidden.body.code]).toEqual([400, '42703']);
      const injected = await get('todos?select=points.sum();select%201');
      expect(injected.status).toBe(400);
      const fn = await get('todos?select=points.pg_sleep()');
      expect(fn.status).toBe(400);
    });
  });
});
