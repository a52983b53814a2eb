import { DEFAULT_LIMITS } from './limits';
import { parseRequest } from './parse-request';
import { MAX_REPEAT_TOTAL, checkRegexPattern } from './regex-guard';

const check = (pattern: string) => () => checkRegexPattern('match', pattern, DEFAULT_LIMITS);
const refused = { status: 400, code: 'PGRST100' };

describe(checkRegexPattern.name, () => {
  it.each(['^abc', '[0-9]+$', 'foo|bar', '(foo|bar)+', '^[a-z]{2,5}-\\d{3}$', 'a{3}b{0,255}', '[(]+\\)*', '[]a+]+', '[[:alpha:]]+', '(?i)abc', '***=(a+)+\\1', '\\x41+', '{', 'a{x}', '(ab)*c?', '(?:ab)+'])(
    'lets %p through',
    (p) => expect(check(p)).not.toThrow(),
  );

  it.each([
    ['(.*)\\1$', 'back-references'],
    ['^(a*)*\\1$', 'back-references'],
    ['(?b)\\(a*\\)\\1', 'back-references'],
    ['[x]\\01', 'back-references'],
    ['(a+)+$', 'a quantifier over a group'],
    ['(a*)*', 'a quantifier over a group'],
    ['((a+))+', 'a quantifier over a group'],
    ['(a{1,30}){1,30}', 'a quantifier over a group'],
    ['(x|(a+)?b)*', 'a quantifier over a group'],
    ['a{256}', 'above 255'],
    ['a{0,255}'.repeat(4), `more than ${MAX_REPEAT_TOTAL}`],
    ['(?x)a b', 'embedded options'],
    ['(?e)a', 'embedded options'],
    ['a'.repeat(257), 'more than 256 characters'],
  ])('refuses %p (%s)', (p, why) => {
    expect(check(p)).toThrow(expect.objectContaining({ ...refused, details: expect.stringContaining(why) }));
  });

  it('counts match and imatch filters over the whole request, or= trees included', () => {
    const parse = (q: string) => () => parseRequest({ query: new URLSearchParams(q) }, DEFAULT_LIMITS);
    expect(parse('a=match.x&b=imatch.y&or=(c.match.z,d.imatch.w)&e=like.*q*')).not.toThrow();
    expect(parse('a=match.x&b=imatch.y&or=(c.match.z,d.imatch.w)&e=not.match.v')).toThrow(
      expect.objectContaining({ ...refused, message: 'more than 4 match/imatch filters in one request' }),
    );
    expect(parse('or=(a.match.\\(.*\\)\\1)')).toThrow(expect.objectContaining(refused));
    expect(parse('or=(a.match."(a%2B)%2B")')).toThrow(expect.objectContaining(refused));
  });
});
