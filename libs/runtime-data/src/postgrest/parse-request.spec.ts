import { DEFAULT_LIMITS } from './limits';
import { FilterBudget, parseFilterValue, parseLogicValue } from './parse-filter';
import { parseOrder } from './parse-order';
import { parseAccept, parseMedia, parsePrefer, parseRange, parseRequest, preferenceApplied } from './parse-request';

const field = { name: 'a', path: [] };
const budget = () => new FilterBudget(DEFAULT_LIMITS);
const filter = (v: string) => parseFilterValue(field, v, DEFAULT_LIMITS, budget());
const logic = (v: string, op: 'and' | 'or' = 'or') => parseLogicValue(op, false, v, DEFAULT_LIMITS, budget());

describe(parseFilterValue.name, () => {
  it.each(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'match', 'imatch', 'isdistinct', 'cs', 'cd', 'ov'])('parses %s', (op) => {
    expect(filter(`${op}.x.y,z`)).toMatchObject({ op, value: 'x.y,z', negate: false });
  });

  it('turns * into % for like/ilike only', () => {
    expect(filter('like.*ab*c')).toMatchObject({ value: '%ab%c' });
    expect(filter('ilike.A*')).toMatchObject({ value: 'A%' });
    expect(filter('eq.a*')).toMatchObject({ value: 'a*' });
  });

  it('keeps quotes literal in top-level values (as PostgREST does)', () => {
    expect(filter('eq."quoted"')).toMatchObject({ value: '"quoted"' });
  });

  it('parses not.<op>', () => {
    expect(filter('not.eq.1')).toMatchObject({ negate: true, op: 'eq', value: '1' });
    expect(filter('not.in.(1,2)')).toMatchObject({ negate: true, op: 'in', list: ['1', '2'] });
  });

  it('parses in-lists with quoted values holding commas, parens, quotes and backslashes', () => {
    expect(filter('in.(1,"a,b","c)d","e\\"f","g\\\\h",)')).toMatchObject({ list: ['1', 'a,b', 'c)d', 'e"f', 'g\\h', ''] });
    expect(filter('in.()')).toMatchObject({ list: [] });
  });

  it('parses is keywords case-insensitively', () => {
    expect(filter('is.NULL')).toMatchObject({ is: 'null' });
    expect(filter('is.not_null')).toMatchObject({ is: 'not_null' });
    expect(filter('not.is.true')).toMatchObject({ is: 'true', negate: true });
    expect(() => filter('is.maybe')).toThrow(expect.objectContaining({ code: 'PGRST100' }));
  });

  it.each(['', 'eq', 'equals.1', 'in.(1,2', 'in.(1)x', 'not.not.eq.1', 'is(any).{null}', 'eq(some).{1}', 'fts(Bad-Name).x', 'like(any).{a'])('rejects %p with PGRST100', (v) => {
    expect(() => filter(v)).toThrow(expect.objectContaining({ code: 'PGRST100', status: 400 }));
  });

  it('caps in-list length', () => {
    const list = Array.from({ length: DEFAULT_LIMITS.maxInList }, (_, i) => i).join(',');
    expect(filter(`in.(${list})`).list).toHaveLength(DEFAULT_LIMITS.maxInList);
    expect(() => filter(`in.(${list},1)`)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe(parseLogicValue.name, () => {
  it('parses nested trees with not and quoted values', () => {
    expect(logic('(a.eq.1,b.gt.2,not.and(c.eq."x,y",d.is.null),e.in.(1,"2)"))')).toEqual({
      kind: 'logic',
      op: 'or',
      negate: false,
      children: [
        expect.objectContaining({ field: { name: 'a', path: [] }, op: 'eq', value: '1' }),
        expect.objectContaining({ field: { name: 'b', path: [] }, op: 'gt', value: '2' }),
        {
          kind: 'logic',
          op: 'and',
          negate: true,
          children: [expect.objectContaining({ op: 'eq', value: 'x,y' }), expect.objectContaining({ op: 'is', is: 'null' })],
        },
        expect.objectContaining({ op: 'in', list: ['1', '2)'] }),
      ],
    });
  });

  it('parses json paths, not.<op> and array literals inside trees', () => {
    expect(logic('(data->>k.not.eq.v,tags.cs.{a,b})').children).toEqual([
      expect.objectContaining({ field: { name: 'data', path: [{ arrow: '->>', key: 'k' }] }, negate: true, value: 'v' }),
      expect.objectContaining({ op: 'cs', value: '{a,b}' }),
    ]);
  });

  it('limits nesting depth', () => {
    const nest = (n: number) => '(' + 'and('.repeat(n - 1) + 'a.eq.1' + ')'.repeat(n - 1) + ')';
    expect(() => logic(nest(DEFAULT_LIMITS.maxLogicDepth))).not.toThrow();
    expect(() => logic(nest(DEFAULT_LIMITS.maxLogicDepth + 1))).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => logic('('.repeat(100000))).toThrow(expect.objectContaining({ status: 400 }));
  });

  it.each(['', '()', '(a.eq.1', 'a.eq.1', '(a.eq.1))', '(a.xx.1)', '(a)', '(and())'])('rejects %p', (v) => {
    expect(() => logic(v)).toThrow(expect.objectContaining({ code: 'PGRST100' }));
  });
});

describe(parseOrder.name, () => {
  it('parses terms with direction, nulls and json paths', () => {
    expect(parseOrder('a.desc.nullslast,data->>k.asc,b,c.nullsfirst', 10)).toEqual([
      { field: { name: 'a', path: [] }, direction: 'desc', nulls: 'last' },
      { field: { name: 'data', path: [{ arrow: '->>', key: 'k' }] }, direction: 'asc' },
      { field: { name: 'b', path: [] } },
      { field: { name: 'c', path: [] }, nulls: 'first' },
    ]);
  });
  it.each(['a.up', 'a.desc.asc', 'a.nullslast.desc', '', 'a,,b', 'a.desc;drop'])('rejects %p', (v) => {
    expect(() => parseOrder(v, 10)).toThrow(expect.objectContaining({ code: 'PGRST100' }));
  });
});

describe(parseRequest.name, () => {
  it('sorts parameters into select, filters, logic, order, page, on_conflict and columns', () => {
    const req = parseRequest(
      {
        query: new URLSearchParams(
          'select=id&id=gt.1&id=lt.9&or=(a.eq.1)&not.and=(b.eq.2,c.eq.3)&users.name=eq.x&users.or=(n.eq.1)&users.not.or=(n.eq.2)&order=id.desc&users.order=n&limit=5&offset=10&users.limit=2&on_conflict=a,%22b%22&columns=%22x%22,y',
        ),
      },
      DEFAULT_LIMITS,
    );
    expect(req.select).toHaveLength(1);
    expect(req.filters.map((f) => [f.path, f.node.kind, f.node.kind === 'logic' ? `${f.node.negate}:${f.node.op}` : f.node.op])).toEqual([
      [[], 'cond', 'gt'],
      [[], 'cond', 'lt'],
      [[], 'logic', 'false:or'],
      [[], 'logic', 'true:and'],
      [['users'], 'cond', 'eq'],
      [['users'], 'logic', 'false:or'],
      [['users'], 'logic', 'true:or'],
    ]);
    expect(req.order.get('')).toHaveLength(1);
    expect(req.order.get('users')).toHaveLength(1);
    expect(req.limit.get('')).toBe(5);
    expect(req.offset.get('')).toBe(10);
    expect(req.limit.get('users')).toBe(2);
    expect(req.onConflict).toEqual(['a', 'b']);
    expect(req.columns).toEqual(['x', 'y']);
  });

  it('accepts a record with repeated values', () => {
    const req = parseRequest({ query: { id: ['gt.1', 'lt.3'], select: 'id' } }, DEFAULT_LIMITS);
    expect(req.filters).toHaveLength(2);
  });

  it('answers a negative limit with 416 PGRST103 and ignores a negative offset, as PostgREST does', () => {
    expect(() => parseRequest({ query: { limit: '-1' } }, DEFAULT_LIMITS)).toThrow(
      expect.objectContaining({ code: 'PGRST103', status: 416, details: 'Limit should be greater than or equal to zero.', headers: { 'Content-Range': '*/*' } }),
    );
    expect(parseRequest({ query: { offset: '-4' } }, DEFAULT_LIMITS).offset.has('')).toBe(false);
  });

  it('refuses unknown preferences with handling=strict (PGRST122) and ignores them otherwise', () => {
    expect(() => parseRequest({ query: {}, headers: { prefer: 'handling=strict, bogus=1' } }, DEFAULT_LIMITS)).toThrow(
      expect.objectContaining({ code: 'PGRST122', status: 400, details: 'Invalid preferences: bogus=1' }),
    );
    expect(parseRequest({ query: {}, headers: { prefer: 'handling=lenient, bogus=1' } }, DEFAULT_LIMITS).prefer.invalid).toEqual(['bogus=1']);
  });

  it.each([['limit', 'abc'], ['offset', '1.5'], ['id', 'nope'], ['id', '1']])('rejects %s=%s', (k, v) => {
    expect(() => parseRequest({ query: { [k]: v } }, DEFAULT_LIMITS)).toThrow(expect.objectContaining({ code: 'PGRST100', status: 400 }));
  });

  it('limits the query length and the number of filters', () => {
    expect(() => parseRequest({ query: { a: 'eq.' + 'x'.repeat(20000) } }, DEFAULT_LIMITS)).toThrow(expect.objectContaining({ status: 400 }));
    const many = Array.from({ length: 101 }, (_, i) => `c${i}.eq.1`).join(',');
    expect(() => parseRequest({ query: { or: `(${many})` } }, DEFAULT_LIMITS)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('reads headers case-insensitively', () => {
    const req = parseRequest({ query: {}, headers: { Prefer: 'count=exact', ACCEPT: 'application/vnd.pgrst.object+json', Range: '0-9' } }, DEFAULT_LIMITS);
    expect(req).toMatchObject({ prefer: { count: 'exact' }, single: true, range: { offset: 0, limit: 10 } });
  });
});

describe(parsePrefer.name, () => {
  it('parses every preference and keeps the unknown ones', () => {
    expect(parsePrefer('return=representation, count=exact,resolution=merge-duplicates, missing=default, tx=rollback, handling=strict, max-affected=5, timezone=UTC, bogus')).toEqual({
      return: 'representation',
      count: 'exact',
      resolution: 'merge-duplicates',
      missing: 'default',
      tx: 'rollback',
      handling: 'strict',
      maxAffected: 5,
      invalid: ['bogus'],
    });
    expect(parsePrefer(undefined)).toEqual({ invalid: [] });
    expect(parsePrefer('count=everything')).toEqual({ invalid: ['count=everything'] });
  });

  it('lists applied preferences per request kind in PostgREST order', () => {
    const p = parsePrefer('max-affected=2, handling=strict, tx=rollback, count=exact, return=representation, missing=default, resolution=merge-duplicates');
    expect(preferenceApplied(p, 'insert', { txAllowed: true, conflictTarget: true })).toEqual([
      'resolution=merge-duplicates', 'missing=default', 'return=representation', 'count=exact', 'tx=rollback', 'handling=strict',
    ]);
    expect(preferenceApplied(p, 'delete', { txAllowed: false })).toEqual(['return=representation', 'count=exact', 'handling=strict', 'max-affected=2']);
    expect(preferenceApplied(p, 'read', { txAllowed: false })).toEqual(['count=exact', 'handling=strict']);
  });
});

describe(parseRange.name, () => {
  it('parses closed and open ranges and ignores junk', () => {
    expect(parseRange('0-9')).toEqual({ offset: 0, limit: 10 });
    expect(parseRange('items=5-')).toEqual({ offset: 5 });
    expect(parseRange('junk')).toBeUndefined();
    expect(() => parseRange('9-0')).toThrow(expect.objectContaining({ code: 'PGRST103', status: 416 }));
  });
});

describe(parseAccept.name, () => {
  it('recognises the single-object type and refuses what we cannot produce', () => {
    expect(parseAccept('application/vnd.pgrst.object+json')).toBe(true);
    expect(parseAccept('application/vnd.pgrst.object+json;nulls=stripped')).toBe(true);
    expect(parseAccept('application/json, text/plain')).toBe(false);
    expect(parseAccept('*/*')).toBe(false);
    expect(parseAccept(undefined)).toBe(false);
    expect(() => parseAccept('text/html')).toThrow(expect.objectContaining({ code: 'PGRST107', status: 406 }));
  });

  it('negotiates CSV, stripped nulls and the plan', () => {
    expect(parseMedia('text/csv')).toEqual({ kind: 'csv', stripNulls: false });
    expect(parseMedia('application/vnd.pgrst.array+json;nulls=stripped')).toEqual({ kind: 'json', stripNulls: true });
    expect(parseMedia('application/vnd.pgrst.object+json; nulls=stripped')).toEqual({ kind: 'object', stripNulls: true });
    expect(parseMedia('application/vnd.pgrst.plan+text; for="application/json"; options=analyze|verbose;')).toEqual({ kind: 'plan', stripNulls: false, planText: true, planOptions: ['analyze', 'verbose'] });
    expect(() => parseMedia('application/vnd.pgrst.plan; options=analyze|drop')).toThrow(expect.objectContaining({ code: 'PGRST107' }));
    expect(parseMedia('text/html, text/csv')).toEqual({ kind: 'csv', stripNulls: false });
  });
});
