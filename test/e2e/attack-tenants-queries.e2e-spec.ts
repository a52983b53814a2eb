import { randomUUID } from 'node:crypto';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, registerTestTokens, rest, signUserToken } from '../support/data';

/**
 * Issue 13, what one request can make the shared Postgres do: regex filters, embedding, counts under rules and
 * deeply nested JSON. Each attack is refused at parse time with PostgREST's 400 `{code,message,details,hint}`
 * before any statement runs, or (counts) answered from the caller's own rule-filtered rows.
 */
describe('attack: tenant query costs', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  const alice = randomUUID();
  const bob = randomUUID();
  let aliceToken: string;
  let bobToken: string;
  const MAX_ROWS = 100;

  beforeAll(async () => {
    // A small db-max-rows so that count=estimated crosses its threshold with a table of 1,000 rows.
    t = await bootTestApp({ DATA_MAX_ROWS: String(MAX_ROWS) });
    registerTestTokens(t);
    u = await signup(t, 'queries');
    p = await createProject(t, u, 'queries');
    await declareTable(t, u, p, {
      name: 'docs',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'body', type: 'text' },
        { name: 'data', type: 'jsonb' },
      ],
    });
    await declareTable(t, u, p, {
      name: 'nodes',
      columns: [
        { name: 'id', type: 'int8', primary_key: true },
        { name: 'parent_id', type: 'int8', references: { table: 'nodes', column: 'id' } },
      ],
    });
    await declareTable(t, u, p, {
      name: 'owned',
      columns: [
        { name: 'id', type: 'int8', primary_key: true },
        { name: 'owner_id', type: 'uuid' },
      ],
    });
    await putRules(t, u, p, 'docs', [{ role: 'anon', action: ['read', 'create', 'update'] }]);
    await putRules(t, u, p, 'owned', [{ role: 'authenticated', action: 'read', where: { owner_id: '$auth.uid' } }]);
    const schema = `"t_${p.ref}"`;
    // Values the back-reference patterns below are slow on: 0.6 s per 1,000-character value for `(.*)\1$`.
    await t.sql.query(`INSERT INTO ${schema}.docs (body) SELECT repeat('a', 1000) || 'c' FROM generate_series(1, 20)`);
    await t.sql.query(`INSERT INTO ${schema}.docs (body) VALUES ('abc'), ('x42'), ('foo'), ('bar')`);
    await t.sql.query(`INSERT INTO ${schema}.nodes (id, parent_id) SELECT g, nullif(g - 1, 0) FROM generate_series(1, 10) g`);
    // 1,000 rows: 10 of them Alice's, 500 Bob's, the rest strangers'; statistics as autovacuum would leave them.
    await t.sql.query(
      `INSERT INTO ${schema}.owned (id, owner_id)
       SELECT g, CASE WHEN g <= 10 THEN $1::uuid WHEN g <= 510 THEN $2::uuid ELSE gen_random_uuid() END FROM generate_series(1, 1000) g`,
      [alice, bob],
    );
    await t.sql.query(`ANALYZE ${schema}.owned`);
    aliceToken = await signUserToken(p.ref, alice);
    bobToken = await signUserToken(p.ref, bob);
  });
  afterAll(() => t.close());

  const anonGet = (path: string) => t.http().get(rest(t, p.ref, path)).set('apikey', p.publishable);
  const secretGet = (path: string) => t.http().get(rest(t, p.ref, path)).set('apikey', p.secret);
  const docCount = async () => (await t.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM "t_${p.ref}".docs`)).rows[0].n;
  const refused = (details: string) => ({ code: 'PGRST100', message: expect.any(String), details: expect.stringContaining(details), hint: null });

  describe('regular expressions (match/imatch)', () => {
    it.each([
      ['(.*)\\1$', '(.*)\\1$', 'back-references'],
      ['^(a*)*\\1$', '^(a*)*\\1$', 'back-references'],
      ['(a+)+$', '(a+)+$', 'a quantifier over a group'],
      ['((a{1,30}){1,30}){1,30}', '((a{1,30}){1,30}){1,30}', 'a quantifier over a group'],
      ['a{0,255} four times', 'a{0,255}'.repeat(4), 'adding up to more than 1000'],
      ['of 257 characters', 'x'.repeat(257), 'more than 256 characters'],
    ])('a publishable key filtering with the pattern %s gets 400 without running it', async (_label, pattern, details) => {
      const started = Date.now();
      const res = await anonGet(`docs?select=id&body=match.${encodeURIComponent(pattern)}`);
      expect([res.status, res.body]).toEqual([400, refused(details)]);
      // Refused while parsing: far below the seconds the pattern costs over these rows.
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('a publishable key hiding a back-reference inside or=() with imatch gets 400', async () => {
      // Quoted, as a value with parentheses must be inside a tree; `\\` inside quotes is one backslash.
      const res = await anonGet(`docs?select=id&or=(body.imatch.${encodeURIComponent('"(.*)\\\\1$"')},id.eq.1)`);
      expect([res.status, res.body]).toEqual([400, refused('back-references')]);
    });

    it('a publishable key sending twelve match filters gets 400; four are allowed', async () => {
      const twelve = Array.from({ length: 12 }, () => `body=match.${encodeURIComponent('a$')}`).join('&');
      const res = await anonGet(`docs?select=id&${twelve}`);
      expect([res.status, res.body]).toEqual([400, { code: 'PGRST100', message: 'more than 4 match/imatch filters in one request', details: null, hint: null }]);
      const five = await anonGet(`docs?select=id&body=match.a&body=imatch.a&body=match.a&body=match.a&or=(body.match.c,id.eq.0)`);
      expect(five.status).toBe(400);
      const four = await anonGet(`docs?select=id&body=match.a&body=imatch.A&body=match.c&or=(body.match.c,id.eq.0)`);
      // The 20 long values and 'abc'.
      expect([four.status, four.body.length]).toEqual([200, 21]);
    });

    it('ordinary patterns still work: ^abc, [0-9]+$, foo|bar, (?:ab)+', async () => {
      const bodies = async (pattern: string) => {
        const res = await anonGet(`docs?select=body&order=body&body=match.${encodeURIComponent(pattern)}`);
        expect(res.status).toBe(200);
        return (res.body as Array<{ body: string }>).map((r) => r.body);
      };
      expect(await bodies('^abc')).toEqual(['abc']);
      expect(await bodies('[0-9]+$')).toEqual(['x42']);
      expect(await bodies('foo|bar')).toEqual(['bar', 'foo']);
      expect(await bodies('^(?:ab)+c$')).toEqual(['abc']);
      const ci = await anonGet(`docs?select=body&body=imatch.${encodeURIComponent('^FOO$')}`);
      expect([ci.status, ci.body]).toEqual([200, [{ body: 'foo' }]]);
    });
  });

  describe('embedding', () => {
    const parent = (inner: string) => `p:parent_id(${inner})`;

    it('a secret key embedding 4 levels deep gets 400; 3 levels work', async () => {
      const three = await secretGet(`nodes?id=eq.4&select=id,${parent(`id,${parent(`id,${parent('id')}`)}`)}`);
      expect([three.status, three.body]).toEqual([200, [{ id: 4, p: { id: 3, p: { id: 2, p: { id: 1 } } } }]]);
      const four = await secretGet(`nodes?id=eq.5&select=id,${parent(`id,${parent(`id,${parent(`id,${parent('id')}`)}`)}`)}`);
      expect([four.status, four.body]).toEqual([400, { code: 'PGRST100', message: 'embedding is nested deeper than 3 levels', details: null, hint: null }]);
    });

    it('a secret key embedding 11 resources in one list gets 400; 10 work', async () => {
      const siblings = (n: number) => Array.from({ length: n }, (_, i) => `e${i}:parent_id(id)`).join(',');
      const ten = await secretGet(`nodes?id=eq.2&select=id,${siblings(10)}`);
      expect(ten.status).toBe(200);
      expect(ten.body[0].e9).toEqual({ id: 1 });
      const eleven = await secretGet(`nodes?id=eq.2&select=id,${siblings(11)}`);
      expect([eleven.status, eleven.body]).toEqual([400, { code: 'PGRST100', message: 'select embeds more than 10 resources in one list', details: null, hint: null }]);
    });

    it('a secret key embedding 30 resources across lists gets 400', async () => {
      const list = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}:parent_id(id)`).join(',');
      const select = ['a', 'b', 'c'].map((tag) => `${tag}:parent_id(id,${list(9, tag)})`).join(',');
      const res = await secretGet(`nodes?id=eq.3&select=id,${select}`);
      expect([res.status, res.body]).toEqual([400, { code: 'PGRST100', message: 'select embeds more than 20 resources', details: null, hint: null }]);
    });
  });

  describe('counts under rules', () => {
    const asUser = (token: string, prefer: string) =>
      t.http().get(rest(t, p.ref, 'owned?select=id&limit=1')).set('apikey', p.publishable).set('authorization', `Bearer ${token}`).set('prefer', prefer);
    const total = (res: { headers: Record<string, string> }) => Number(res.headers['content-range'].split('/')[1]);

    it('count=planned for a user whose rule shows 10 of 1,000 rows estimates their rows, not the table', async () => {
      const res = await asUser(aliceToken, 'count=planned');
      expect(res.status).toBe(206);
      expect(res.body).toHaveLength(1);
      expect(total(res)).toBeGreaterThan(0);
      expect(total(res)).toBeLessThan(100);
    });

    it('count=estimated below db-max-rows is the exact count of the rows the rule shows', async () => {
      const res = await asUser(aliceToken, 'count=estimated');
      expect([res.status, res.headers['content-range']]).toEqual([206, '0-0/10']);
    });

    it('count=estimated above db-max-rows is planned from the rule-filtered rows, not the table', async () => {
      const res = await asUser(bobToken, 'count=estimated');
      expect(res.status).toBe(206);
      // Bob sees 500; the table has 1,000. Above db-max-rows the planner's estimate of Bob's rows is the answer.
      expect(total(res)).toBeGreaterThan(MAX_ROWS);
      expect(total(res)).toBeLessThan(900);
    });
  });

  describe('deeply nested JSON bodies', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

    it('a publishable key posting JSON nested 5,000 levels deep into a jsonb column gets 400 and writes nothing', async () => {
      const before = await docCount();
      const res = await t.http().post(rest(t, p.ref, 'docs')).set('apikey', p.publishable).set('content-type', 'application/json').send(`{"body":"x","data":${deep(5000)}}`);
      expect([res.status, res.body]).toEqual([
        400,
        { code: 'PGRST102', message: "The value of 'data' is nested deeper than 512 levels", details: expect.any(String), hint: null },
      ]);
      expect(await docCount()).toBe(before);
    });

    it('a publishable key patching with JSON nested 5,000 levels deep gets 400 and changes nothing', async () => {
      const res = await t.http().patch(rest(t, p.ref, 'docs?id=eq.1')).set('apikey', p.publishable).set('content-type', 'application/json').send(`{"data":${deep(5000)}}`);
      expect([res.status, res.body.code]).toEqual([400, 'PGRST102']);
      const row = await t.sql.query(`SELECT data FROM "t_${p.ref}".docs WHERE id = 1`);
      expect(row.rows[0].data).toBeNull();
    });

    it('JSON nested 512 levels deep is stored', async () => {
      const res = await t.http().post(rest(t, p.ref, 'docs')).set('apikey', p.publishable).set('content-type', 'application/json').set('prefer', 'return=representation').send(`{"body":"deep","data":${deep(512)}}`);
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body[0].data)).toBe(deep(512));
    });
  });
});
