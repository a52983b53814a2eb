import { DEFAULT_LIMITS } from './limits';
import { parseSelect } from './parse-select';
import { PostgrestError } from './postgrest.error';

const parse = (s: string) => parseSelect(s, DEFAULT_LIMITS);

describe(parseSelect.name, () => {
  it('parses star, columns, aliases and casts', () => {
    expect(parse('*,id,full:name,age::text')).toEqual([
      { kind: 'star' },
      { kind: 'field', alias: undefined, field: { name: 'id', path: [] }, cast: undefined },
      { kind: 'field', alias: 'full', field: { name: 'name', path: [] }, cast: undefined },
      { kind: 'field', alias: undefined, field: { name: 'age', path: [] }, cast: 'text' },
    ]);
  });

  it('maps cast spellings to canonical names and refuses others', () => {
    expect(parse('a::integer')[0]).toMatchObject({ cast: 'int4' });
    expect(parse('a::BOOLEAN')[0]).toMatchObject({ cast: 'bool' });
    expect(() => parse('a::regclass')).toThrow(PostgrestError);
    expect(() => parse('a::text);drop table x')).toThrow(expect.objectContaining({ code: 'PGRST100', status: 400 }));
  });

  it('parses JSON paths with keys and indexes', () => {
    expect(parse('data->a->>b,x:data->0->>k')).toEqual([
      { kind: 'field', field: { name: 'data', path: [{ arrow: '->', key: 'a' }, { arrow: '->>', key: 'b' }] } },
      { kind: 'field', alias: 'x', field: { name: 'data', path: [{ arrow: '->', key: 0 }, { arrow: '->>', key: 'k' }] } },
    ]);
  });

  it('parses embeds with alias, hint, !inner and nesting', () => {
    expect(parse('id,author:users!posts_author_id_fkey!inner(id,org:orgs(*)),comments()')).toEqual([
      expect.objectContaining({ kind: 'field' }),
      {
        kind: 'embed',
        alias: 'author',
        relation: 'users',
        hint: 'posts_author_id_fkey',
        inner: true,
        select: [expect.objectContaining({ field: { name: 'id', path: [] } }), { kind: 'embed', alias: 'org', relation: 'orgs', hint: undefined, inner: false, select: [{ kind: 'star' }] }],
      },
      { kind: 'embed', alias: undefined, relation: 'comments', hint: undefined, inner: false, select: [] },
    ]);
  });

  it('ignores whitespace outside quotes and keeps quoted names whole', () => {
    expect(parse(' id , "weird name" ')).toEqual([
      expect.objectContaining({ field: { name: 'id', path: [] } }),
      expect.objectContaining({ field: { name: 'weird name', path: [] } }),
    ]);
    expect(parse('"a,b"')[0]).toMatchObject({ field: { name: 'a,b' } });
  });

  it('accepts unicode names', () => {
    expect(parse('名前,ünïcode:café')[1]).toMatchObject({ alias: 'ünïcode', field: { name: 'café' } });
  });

  it.each(['', 'id,', 'users(', 'users(id', 'id)', 'a:b:c', '...users', '...id', 'a->', 'users!(*)', 'x!a!b(*)', 'data->a(id)'])('rejects %p with PGRST100', (s) => {
    expect(() => parse(s)).toThrow(expect.objectContaining({ code: 'PGRST100', status: 400 }));
  });

  it('enforces embed depth, item count and length limits', () => {
    const deep = 'a(' .repeat(DEFAULT_LIMITS.maxEmbedDepth + 1) + 'id' + ')'.repeat(DEFAULT_LIMITS.maxEmbedDepth + 1);
    expect(() => parse(deep)).toThrow(expect.objectContaining({ status: 400 }));
    const ok = 'a('.repeat(DEFAULT_LIMITS.maxEmbedDepth) + 'id' + ')'.repeat(DEFAULT_LIMITS.maxEmbedDepth);
    expect(() => parse(ok)).not.toThrow();
    expect(() => parse(Array.from({ length: 201 }, (_, i) => `c${i}`).join(','))).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => parse('x'.repeat(5000))).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('allows 3 levels of embedding, 10 embeds in one list and 20 in all', () => {
    const refused = (message: string) => expect.objectContaining({ status: 400, code: 'PGRST100', message });
    expect(() => parse('a(b(c(id)))')).not.toThrow();
    expect(() => parse('a(b(c(d(id))))')).toThrow(refused('embedding is nested deeper than 3 levels'));
    const siblings = (n: number, prefix = 'e') => Array.from({ length: n }, (_, i) => `${prefix}${i}:users(id)`).join(',');
    expect(() => parse(siblings(10))).not.toThrow();
    expect(() => parse(siblings(11))).toThrow(refused('select embeds more than 10 resources in one list'));
    expect(() => parse(`a(${siblings(9, 'x')}),b(${siblings(8, 'y')}),c(id)`)).not.toThrow();
    expect(() => parse(`a(${siblings(9, 'x')}),b(${siblings(8, 'y')}),c(id),d(id)`)).toThrow(refused('select embeds more than 20 resources'));
  });
});
