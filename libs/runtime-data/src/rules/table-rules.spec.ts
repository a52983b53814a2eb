import { AAL_KEY, buildAbility, normaliseRules, policyFromAbility, resolveWhere, rulesSchema, StoredRule, validateRules } from './table-rules';
import { restrictedPolicy } from '../rest/tenant-policy';
import type { TableDefinition } from '../catalog/table-definition';

const notes: TableDefinition = {
  name: 'notes',
  columns: ['id', 'owner_id', 'title', 'public', 'team'].map((name) => ({ name, type: 'text', nullable: true, primary_key: name === 'id', unique: false })),
  indexes: [],
};

describe('table rules', () => {
  const rules: StoredRule[] = normaliseRules(
    rulesSchema.parse([
      { role: 'anon', action: 'read', where: { public: true }, columns: ['id', 'title'] },
      { role: 'authenticated', action: ['read', 'update'], where: { owner_id: '$auth.uid' } },
      { role: 'authenticated', action: 'read', where: { team: { $in: ['$auth.claims.team', 'all'] } } },
    ]),
  );
  const byTable = new Map([['notes', rules]]);

  it('validates column names, caller references and consistent columns', () => {
    expect(validateRules(rules, notes)).toEqual([]);
    expect(rulesSchema.safeParse([{ role: 'anon', action: 'read', where: { a: '$auth.password' } }]).success).toBe(false);
    expect(rulesSchema.safeParse([{ role: 'anon', action: 'read', where: { a: { $where: 'x' } } }]).success).toBe(false);
    const mixed = normaliseRules(rulesSchema.parse([{ role: 'anon', action: 'read', columns: ['id'] }, { role: 'anon', action: 'read' }, { role: 'anon', action: 'read', where: { nope: 1 } }]));
    expect(validateRules(mixed, notes).map((p) => p.path)).toEqual(['1.columns', '2.where.nope']);
  });

  it('substitutes the caller and drops rules whose references the caller lacks', () => {
    expect(resolveWhere({ owner_id: '$auth.uid' }, { role: 'authenticated', uid: 'u1', claims: {} })).toEqual({ owner_id: 'u1' });
    expect(resolveWhere({ owner_id: '$auth.uid' }, { role: 'anon', uid: null, claims: {} })).toBeNull();
    expect(resolveWhere({ team: '$auth.claims.org.team' }, { role: 'authenticated', uid: 'u', claims: { org: { team: 'red' } } })).toEqual({ team: 'red' });
    expect(resolveWhere({ team: '$auth.claims.team' }, { role: 'authenticated', uid: 'u', claims: { team: { $ne: 1 } } })).toBeNull();
    expect(resolveWhere({ r: { $eq: '$auth.role' } }, { role: 'anon', uid: null, claims: {} })).toEqual({ r: { $eq: 'anon' } });
  });

  it('"$auth.aal" tests the caller’s session level, not a column: aal2 needs a second factor, aal1 any session', () => {
    const aal = (claims: Record<string, unknown>, level: string) => resolveWhere({ [AAL_KEY]: level, owner_id: '$auth.uid' }, { role: 'authenticated', uid: 'u1', claims });
    expect(aal({ aal: 'aal2' }, 'aal2')).toEqual({ owner_id: 'u1' });
    expect(aal({ aal: 'aal1' }, 'aal2')).toBeNull();
    expect(aal({}, 'aal2')).toBeNull();
    expect(aal({ aal: 'aal1' }, 'aal1')).toEqual({ owner_id: 'u1' });
    expect(aal({ aal: 'aal2' }, 'aal1')).toEqual({ owner_id: 'u1' });
    const stored = normaliseRules(rulesSchema.parse([{ role: 'authenticated', action: 'read', where: { [AAL_KEY]: 'aal2' } }, { role: 'authenticated', action: 'read', where: { [AAL_KEY]: 'aal3' } }]));
    expect(validateRules(stored, notes)).toEqual([{ path: '1.where.$auth.aal', message: 'must be "aal1" or "aal2"' }]);
    const policy = (claims: Record<string, unknown>) => policyFromAbility(buildAbility(new Map([['notes', stored.slice(0, 1)]]), { role: 'authenticated', uid: 'u1', claims }));
    expect(policy({ aal: 'aal1' })('notes', 'read').rows).toBe('none');
    expect(policy({ aal: 'aal2' })('notes', 'read').rows).toBe('all');
  });

  it('turns the CASL ability into the SQL policy: deny, all rows, or OR-ed conditions with columns', () => {
    const anon = policyFromAbility(buildAbility(byTable, { role: 'anon', uid: null, claims: {} }));
    expect(anon('notes', 'read')).toEqual({ rows: [{ public: true }], columns: ['id', 'title'] });
    expect(anon('notes', 'create').rows).toBe('none');
    expect(anon('other', 'read').rows).toBe('none');
    const alice = policyFromAbility(buildAbility(byTable, { role: 'authenticated', uid: 'alice', claims: { team: 'red' } }));
    expect(alice('notes', 'read')).toEqual({ rows: expect.arrayContaining([{ owner_id: 'alice' }, { team: { $in: ['red', 'all'] } }]), columns: 'all' });
    expect(alice('notes', 'update')).toEqual({ rows: [{ owner_id: 'alice' }], columns: 'all' });
    expect(alice('notes', 'delete').rows).toBe('none');
    const unconditional = policyFromAbility(buildAbility(new Map([['notes', normaliseRules([{ role: 'anon', action: 'read' }])]]), { role: 'anon', uid: null, claims: {} }));
    expect(unconditional('notes', 'read')).toEqual({ rows: 'all', columns: 'all' });
  });

  it('restricted keys: listed tables only, and no writes when read-only', () => {
    const policy = restrictedPolicy({ scopes: ['rest:*'], tables: ['notes'], read_only: true });
    expect(policy('notes', 'read').rows).toBe('all');
    expect(policy('notes', 'update').rows).toBe('none');
    expect(policy('other', 'read').rows).toBe('none');
    expect(restrictedPolicy({ scopes: ['rest:*'] })('other', 'delete').rows).toBe('all');
  });
});
