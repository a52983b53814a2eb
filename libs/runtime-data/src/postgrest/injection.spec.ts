import { TablePolicy, allowAll } from './catalog';
import { prng, randomBody, randomQuery, placeholdersMatch, pick } from './fuzz.fixtures';
import { ALICE, ctx, policyOf } from './postgrest.fixtures';
import { planDelete, planInsert, planRead, planUpdate } from './postgrest';
import { PostgrestError } from './postgrest.error';
import { SqlQuery } from './sql';

const admin = ctx(allowAll);
/** Every hostile string carries ZQ so we can assert it never reaches SQL text. */
const HOSTILE = [`ZQ"; DROP TABLE users; --`, `ZQ' OR '1'='1`, `ZQ") OR ("1"="1`, 'ZQ/*', 'ZQ\u0000x', 'ZQ$1', 'ZQ\\"; select pg_sleep(10)', 't_other.ZQ', 'ZQüñí🚀'];

/** Either a 4xx PostgrestError, or a statement whose text doesn't contain the hostile marker. */
function safe(build: () => SqlQuery): void {
  let plan: SqlQuery;
  try {
    plan = build();
  } catch (e) {
    expect(e).toBeInstanceOf(PostgrestError);
    expect((e as PostgrestError).status).toBeLessThan(500);
    return;
  }
  expect(plan.text).not.toContain('ZQ');
  expect(plan.text).not.toContain('DROP');
  expect(placeholdersMatch(plan.text, plan.values)).toBe(true);
}

const enc = encodeURIComponent;
const read = (query: string, headers: Record<string, string> = {}) => () => planRead(admin, 'posts', { query: new URLSearchParams(query), headers });

describe('SQL injection', () => {
  describe.each(HOSTILE)('with %p', (h) => {
    it('as the table', () => safe(() => planRead(admin, h, { query: {} })));
    it('as a column in select, filter, order', () => {
      safe(read(`select=${enc(h)}`));
      safe(read(`select="${enc(h.replace(/"/g, '\\"'))}"`));
      safe(read(`${enc(h)}=eq.1`));
      safe(read(`order=${enc(h)}`));
      safe(read(`or=(${enc(h)}.eq.1)`));
    });
    it('as an operator', () => {
      safe(read(`title=${enc(h)}.1`));
      safe(read(`title=not.${enc(h)}.1`));
      safe(read(`or=(title.${enc(h)}.1)`));
    });
    it('as a value of every operator', () => {
      for (const op of ['eq', 'neq', 'gt', 'like', 'ilike', 'match', 'isdistinct', 'cs']) safe(read(`title=${op}.${enc(h)}`));
      safe(read(`title=in.(${enc(h)},"${enc(h.replace(/"/g, '\\"'))}")`));
      safe(read(`title=is.${enc(h)}`));
      safe(read(`or=(title.eq."${enc(h.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}")`));
      safe(read(`data->>k=eq.${enc(h)}`));
    });
    it('as an alias, a JSON key, a cast, an embed, a hint, an embed path', () => {
      safe(read(`select=${enc(h)}:title`));
      safe(read(`select="${enc(h.replace(/"/g, '\\"'))}":title`));
      safe(read(`select=data->${enc(h)},data->>"${enc(h.replace(/"/g, '\\"'))}"`));
      safe(read(`select=data->>x&data->${enc(h)}=eq.1&order=data->>${enc(h)}`));
      safe(read(`select=title::${enc(h)}`));
      safe(read(`select=${enc(h)}(*)`));
      safe(read(`select=users!${enc(h)}(*)`));
      safe(read(`select=x:users!author_id(*)&${enc(h)}.id=eq.1`));
    });
    it('in headers', () => {
      safe(read('', { prefer: h, range: h, accept: `application/json, ${h}` }));
    });
    it('in on_conflict, columns and body keys/values', () => {
      safe(() => planInsert(admin, 'posts', { query: { on_conflict: h }, headers: { prefer: 'resolution=merge-duplicates' } }, { title: 'x' }));
      safe(() => planInsert(admin, 'posts', { query: { columns: h } }, { title: 'x' }));
      safe(() => planInsert(admin, 'posts', { query: {} }, { [h]: 1 }));
      safe(() => planInsert(admin, 'posts', { query: {} }, { title: h, data: { [h]: h }, tags: [h] }));
      safe(() => planUpdate(admin, 'posts', { query: { title: `eq.${h}` } }, { [h]: 1 }));
      safe(() => planUpdate(admin, 'posts', { query: { title: `eq.${h}` } }, { title: h }));
      safe(() => planDelete(admin, 'posts', { query: { [h]: 'eq.1' } }));
    });
    it('in policy values (which become parameters too)', () => {
      const p: TablePolicy = { rows: [{ title: h, author_id: { $in: [ALICE, h] } }], columns: 'all' };
      safe(() => planRead(ctx(policyOf({ posts: { read: p } })), 'posts', { query: {} }));
    });
  });

  it('keeps huge in-lists as one array parameter', () => {
    const list = Array.from({ length: 1000 }, (_, i) => `ZQ${i}`).join(',');
    const plan = planRead(admin, 'posts', { query: { title: `in.(${list})` } });
    expect(plan.text).not.toContain('ZQ');
    expect(plan.values.find(Array.isArray)).toHaveLength(1000);
    expect(() => planRead(admin, 'posts', { query: { title: `in.(${list},x)` } })).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('deep or-nesting is refused with 400, not a stack overflow', () => {
    const deep = 'or=' + 'or('.repeat(5000).replace(/^or/, '') + 'id.eq.1' + ')'.repeat(5000);
    expect(() => planRead(admin, 'posts', { query: new URLSearchParams(deep) })).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('unicode values survive as parameters', () => {
    const plan = planRead(admin, 'posts', { query: { title: 'eq.日本語 ü 🚀 \u202e', or: '(title.eq."ñ,(x)")' } });
    expect(plan.values).toEqual(expect.arrayContaining(['日本語 ü 🚀 \u202e', 'ñ,(x)']));
  });
});

describe('fuzz: random requests', () => {
  it('parse + build either succeeds with a consistent statement or throws a 4xx PostgrestError', () => {
    const hidden = ctx(
      policyOf({
        posts: {
          read: { rows: [{ published: true }], columns: ['id', 'title', 'data', 'tags', 'published', 'author_id'] },
          create: { rows: [{ author_id: ALICE }], columns: 'all' },
          update: { rows: [{ author_id: ALICE }], columns: ['title'] },
          delete: { rows: 'all', columns: 'all' },
        },
        users: { read: { rows: 'all', columns: ['id', 'name'] } },
      }),
    );
    let ok = 0;
    let rejected = 0;
    for (let seed = 1; seed <= 6000; seed++) {
      const rnd = prng(seed);
      const query = randomQuery(rnd);
      const headers = { prefer: pick(rnd, ['', 'count=exact', 'return=representation', 'resolution=merge-duplicates,return=representation', 'count=planned', 'missing=default']), accept: pick(rnd, ['', 'application/vnd.pgrst.object+json', 'text/csv']) };
      const c = rnd() < 0.5 ? admin : hidden;
      const method = pick(rnd, ['GET', 'GET', 'POST', 'PATCH', 'DELETE'] as const);
      const body = randomBody(rnd);
      try {
        const plan =
          method === 'GET' ? planRead(c, 'posts', { query, headers }) : method === 'POST' ? planInsert(c, 'posts', { query, headers }, body) : method === 'PATCH' ? planUpdate(c, 'posts', { query, headers }, body) : planDelete(c, 'posts', { query, headers });
        if (!placeholdersMatch(plan.text, plan.values)) throw new Error(`placeholder mismatch for seed ${seed}: ${query}`);
        ok++;
      } catch (e) {
        if (!(e instanceof PostgrestError) || e.status >= 500) throw new Error(`seed ${seed} (${method} ${query}): ${String(e)}`);
        rejected++;
      }
    }
    // Both paths must actually be exercised.
    expect(ok).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });
});
