import type { SupabaseClient } from '@supabase/supabase-js';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, rest, supabase } from '../support/data';

/**
 * PostgREST parity, reads and output: ranges and their edge cases, counts, media types (CSV, stripped nulls, the
 * plan) and schema profiles — each with the status, headers and body PostgREST gives, through supabase-js and raw HTTP.
 */
describe('PostgREST parity: reads and output', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  let admin: SupabaseClient;
  let anon: SupabaseClient;

  const get = (path: string, key = p.publishable, ref = p.ref) => t.http().get(rest(t, ref, path)).set('apikey', key);

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'parity-reads');
    p = await createProject(t, u, 'parity-reads');
    other = await createProject(t, u, 'parity-reads-other');
    await declareTable(t, u, p, {
      name: 'items',
      columns: [
        { name: 'id', type: 'int8', primary_key: true },
        { name: 'name', type: 'text' },
        { name: 'note', type: 'text' },
        { name: 'secret', type: 'text' },
        { name: 'flag', type: 'bool' },
      ],
    });
    await putRules(t, u, p, 'items', [{ role: 'anon', action: 'read', columns: ['id', 'name', 'note', 'flag'], where: { flag: true } }]);
    await declareTable(t, u, other, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'name', type: 'text' }] });
    admin = supabase(t, p.ref, p.secret);
    anon = supabase(t, p.ref, p.publishable);
    const rows = Array.from({ length: 15 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, note: i % 2 ? null : `n,${i + 1}`, secret: 's', flag: i < 10 }));
    expect((await admin.from('items').insert(rows)).status).toBe(201);
    await supabase(t, other.ref, other.secret).from('items').insert([{ id: 1, name: 'other tenant' }]);
  });
  afterAll(() => t.close());

  describe('ranges: limit, offset, Range', () => {
    it('ignores a negative offset (a no-op)', async () => {
      const res = await get('items?select=id&offset=-4&order=id');
      expect([res.status, res.headers['content-range'], res.body.length]).toEqual([200, '0-9/*', 10]);
    });

    it('answers a negative limit with 416 PGRST103 and Content-Range */*', async () => {
      const res = await get('items?select=id&limit=-1');
      expect([res.status, res.headers['content-range'], res.body]).toEqual([
        416,
        '*/*',
        { code: 'PGRST103', message: 'Requested range not satisfiable', details: 'Limit should be greater than or equal to zero.', hint: null },
      ]);
    });

    it('answers an offset past the end with 416 and Content-Range */N (N counted through the rules)', async () => {
      const res = await get('items?select=id&offset=12').set('prefer', 'count=exact');
      expect([res.status, res.headers['content-range'], res.body]).toEqual([
        416,
        '*/10',
        { code: 'PGRST103', message: 'Requested range not satisfiable', details: 'An offset of 12 was requested, but there are only 10 rows.', hint: null },
      ]);
      const viaClient = await anon.from('items').select('id', { count: 'exact' }).range(20, 25);
      expect([viaClient.status, viaClient.error?.code]).toEqual([416, 'PGRST103']);
    });

    it('answers an inverted Range with 416 and PostgREST details', async () => {
      const res = await get('items?select=id').set('range', '5-2');
      expect([res.status, res.headers['content-range'], res.body.details]).toEqual([
        416,
        '*/*',
        'The lower boundary must be lower than or equal to the upper boundary in the Range header.',
      ]);
    });

    it('HEAD with a count answers 206 when the page is partial, 200 when whole', async () => {
      const partial = await anon.from('items').select('*', { count: 'exact', head: true }).range(0, 1);
      expect([partial.status, partial.count, partial.data]).toEqual([206, 10, null]);
      const whole = await anon.from('items').select('*', { count: 'exact', head: true });
      expect([whole.status, whole.count]).toEqual([200, 10]);
      const raw = await t.http().head(rest(t, p.ref, 'items?limit=3')).set('apikey', p.publishable).set('prefer', 'count=exact');
      expect([raw.status, raw.headers['content-range']]).toEqual([206, '0-2/10']);
    });
  });

  describe('counts: planned and estimated come from the filtered query', () => {
    it('plans the filtered query, not the whole table', async () => {
      const one = await admin.from('items').select('id', { count: 'planned', head: true }).eq('id', 3);
      expect(one.count).toBe(1);
      const res = await get('items?select=id&id=eq.3', p.secret).set('prefer', 'count=planned');
      expect([res.status, res.headers['content-range'], res.headers['preference-applied']]).toEqual([200, '0-0/1', 'count=planned']);
    });
  });

  describe('Accept: text/csv', () => {
    it('answers CSV as PostgREST writes it (header, record text, NULL empty, quoting)', async () => {
      const res = await get('items?select=id,name,note,flag&id=lte.3&order=id').set('accept', 'text/csv');
      expect([res.status, res.headers['content-type']]).toEqual([200, 'text/csv; charset=utf-8']);
      expect(res.text).toBe('id,name,note,flag\n1,"item 1","n,1",t\n2,"item 2",,t\n3,"item 3","n,3",t');
      const { data, error } = await anon.from('items').select('id').eq('id', 1).csv();
      expect([error, data]).toEqual([null, 'id\n1']);
    });
  });

  describe('nulls=stripped', () => {
    it('drops null keys from arrays and single objects', async () => {
      const arr = await get('items?select=id,note&id=in.(1,2)&order=id').set('accept', 'application/vnd.pgrst.array+json;nulls=stripped');
      expect([arr.status, arr.headers['content-type'], JSON.parse(arr.text)]).toEqual([
        200,
        'application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8',
        [{ id: 1, note: 'n,1' }, { id: 2 }],
      ]);
      const obj = await anon.from('items').select('id,note').eq('id', 2).stripNulls().single();
      expect([obj.error, obj.data]).toEqual([null, { id: 2 }]);
    });
  });

  describe('explain() (application/vnd.pgrst.plan)', () => {
    it('returns the plan for the secret key', async () => {
      const text = await admin.from('items').select('id').eq('id', 1).explain();
      expect(text.error).toBeNull();
      expect(String(text.data)).toMatch(/Scan/);
      const json = await get('items?select=id', p.secret).set('accept', 'application/vnd.pgrst.plan+json; for="application/json"');
      expect([json.status, json.headers['content-type']]).toEqual([200, 'application/vnd.pgrst.plan+json; for="application/json"; charset=utf-8']);
      expect(JSON.parse(json.text)[0].Plan).toBeDefined();
    });

    it('runs EXPLAIN ANALYZE for options=analyze, rolling back a write it explains', async () => {
      const analyzed = await admin.from('items').select('id').eq('id', 1).explain({ analyze: true, verbose: true });
      expect(String(analyzed.data)).toMatch(/actual time=/);
      const write = await t.http().delete(rest(t, p.ref, 'items?id=eq.2')).set('apikey', p.secret).set('accept', 'application/vnd.pgrst.plan+json; options=analyze');
      expect([write.status, write.headers['content-type']]).toEqual([200, 'application/vnd.pgrst.plan+json; for="application/json"; options=analyze; charset=utf-8']);
      expect(JSON.parse(write.text)[0]['Execution Time']).toEqual(expect.any(Number));
      expect((await admin.from('items').select('id').eq('id', 2)).data).toEqual([{ id: 2 }]);
      const unknown = await get('items?select=id', p.secret).set('accept', 'application/vnd.pgrst.plan; options=analyze|format');
      expect([unknown.status, unknown.body.code]).toEqual([406, 'PGRST107']);
    });

    it('refuses other keys with 406 PGRST107, and never runs a write', async () => {
      const res = await get('items?select=id').set('accept', 'application/vnd.pgrst.plan+text');
      expect([res.status, res.body.code]).toEqual([406, 'PGRST107']);
      const write = await t.http().delete(rest(t, p.ref, 'items?id=eq.1')).set('apikey', p.secret).set('accept', 'application/vnd.pgrst.plan+json');
      expect(write.status).toBe(200);
      expect((await admin.from('items').select('id').eq('id', 1)).data).toEqual([{ id: 1 }]);
    });
  });

  describe('schema profiles', () => {
    it('accepts public and answers another schema with 406 PGRST106', async () => {
      expect((await get('items?select=id&limit=1').set('accept-profile', 'public')).status).toBe(200);
      const res = await get('items?select=id').set('accept-profile', 'other');
      expect([res.status, res.body]).toEqual([406, { code: 'PGRST106', message: 'Invalid schema: other', details: null, hint: 'Only the following schemas are exposed: public' }]);
      const viaClient = await admin.schema('auth').from('items').select('id');
      expect([viaClient.status, viaClient.error?.code]).toEqual([406, 'PGRST106']);
      const write = await t.http().post(rest(t, p.ref, 'items')).set('apikey', p.secret).set('content-profile', `t_${other.ref}`).send({ id: 99 });
      expect([write.status, write.body.code]).toEqual([406, 'PGRST106']);
    });
  });

  describe('isolation', () => {
    it('CSV, stripped nulls and plans keep to the rules: hidden rows and columns stay hidden', async () => {
      const csv = await get('items?select=*&order=id').set('accept', 'text/csv');
      expect(csv.text.split('\n')[0]).toBe('id,name,note,flag');
      expect(csv.text.split('\n')).toHaveLength(11);
      const hidden = await get('items?select=secret').set('accept', 'text/csv');
      expect([hidden.status, hidden.body.code]).toEqual([400, '42703']);
      const stripped = await get('items?select=id&id=eq.12').set('accept', 'application/vnd.pgrst.array+json;nulls=stripped');
      expect(JSON.parse(stripped.text)).toEqual([]);
    });

    it("a profile naming another tenant's schema is refused, not followed", async () => {
      const res = await get('items?select=name').set('accept-profile', `t_${other.ref}`);
      expect([res.status, res.body.code]).toEqual([406, 'PGRST106']);
      expect(JSON.stringify(res.body)).not.toContain('other tenant');
    });
  });
});
