import { allows, bucketRulesSchema, normaliseBucketRules, rulesSql } from './bucket-rules';

describe('bucket rules', () => {
  const rules = normaliseBucketRules(
    bucketRulesSchema.parse([
      { role: 'authenticated', action: ['read', 'create'], where: { path: { $startsWith: '$auth.uid/' } } },
      { role: 'anon', action: 'read', where: { mime_type: 'image/png', size: { $lte: 100 } } },
    ]),
  );
  const alice = { role: 'authenticated' as const, uid: 'alice' };
  const obj = (path: string, extra: object = {}) => ({ owner_id: null, path, mime_type: 'text/plain', size: 1, ...extra });

  it('matches $startsWith literally, with the caller substituted', () => {
    expect(allows(rules, alice, 'read', obj('alice/x'))).toBe(true);
    expect(allows(rules, alice, 'read', obj('alicex/y'))).toBe(false);
    expect(allows(rules, alice, 'read', obj('bob/alice/x'))).toBe(false);
    // Regex metacharacters in the uid stay literal.
    expect(allows(rules, { role: 'authenticated', uid: 'a.*' }, 'read', obj('abc/x'))).toBe(false);
    expect(allows(rules, { role: 'authenticated', uid: 'a.*' }, 'read', obj('a.*/x'))).toBe(true);
  });

  it('grants nothing for an action or role without a rule, or a rule needing a uid the caller lacks', () => {
    expect(allows(rules, alice, 'delete', obj('alice/x'))).toBe(false);
    expect(allows(rules, { role: 'authenticated', uid: null }, 'read', obj('/x'))).toBe(false);
    expect(allows(rules, { role: 'anon', uid: null }, 'read', obj('p.png', { mime_type: 'image/png', size: 100 }))).toBe(true);
    expect(allows(rules, { role: 'anon', uid: null }, 'read', obj('p.png', { mime_type: 'image/png', size: 101 }))).toBe(false);
    expect(allows([], alice, 'read', obj('alice/x'))).toBe(false);
  });

  it('refuses unknown fields and caller references in the rules', () => {
    expect(bucketRulesSchema.safeParse([{ role: 'anon', action: 'read', where: { bucket_id: 'x' } }]).success).toBe(false);
    expect(bucketRulesSchema.safeParse([{ role: 'anon', action: 'read', where: { path: '$env.HOME' } }]).success).toBe(false);
    expect(bucketRulesSchema.safeParse([{ role: 'service', action: 'read' }]).success).toBe(false);
  });

  it('turns the same rules into parameterised SQL: values never in the text', () => {
    const values: unknown[] = [];
    const sql = rulesSql(rules, { role: 'authenticated', uid: "x'; DROP TABLE y; --" }, 'read', values);
    expect(sql).toBe('((starts_with(o.name::text, $1)))');
    expect(values).toEqual(["x'; DROP TABLE y; --/"]);
    expect(rulesSql(rules, alice, 'delete', [])).toBe('FALSE');
    expect(rulesSql(normaliseBucketRules([{ role: 'anon', action: 'read' }]), { role: 'anon', uid: null }, 'read', [])).toBe('TRUE');
  });
});
