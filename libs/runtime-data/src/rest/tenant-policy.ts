import type { KeyScopes } from '@plinth/keys';
import type { TenantContext } from '@plinth/gateway';
import { allowAll, PolicyFn, TablePolicy } from '../postgrest';
import type { ProjectCatalog } from '../catalog/project-catalog';
import { buildAbility, policyFromAbility } from '../rules/table-rules';

const DENY: TablePolicy = { rows: 'none', columns: 'all' };
const ALL: TablePolicy = { rows: 'all', columns: 'all' };

/** A restricted key: its `tables` (when listed) and `read_only`, and otherwise no row rules (it is a server key). */
export function restrictedPolicy(scopes: KeyScopes | null): PolicyFn {
  const tables = scopes?.tables?.length ? new Set(scopes.tables) : null;
  const readOnly = scopes?.read_only === true;
  return (table, action) => {
    if (tables && !tables.has(table)) return DENY;
    if (readOnly && action !== 'read') return DENY;
    return ALL;
  };
}

/**
 * The caller's policy: secret key → everything; restricted key → its limits; anon and authenticated → the tables'
 * rules as a CASL ability with the caller's values. The anonymous policy is the same for every anonymous caller and
 * is kept on the compiled catalog; an end user's is built per request (it holds their id and claims).
 */
export function policyFor(t: TenantContext, pc: ProjectCatalog): PolicyFn {
  switch (t.role) {
    case 'service':
      return allowAll;
    case 'restricted':
      return restrictedPolicy(t.restrictions);
    case 'anon':
      pc.anonPolicy ??= policyFromAbility(buildAbility(pc.rules, { role: 'anon', uid: null, claims: {} }));
      return pc.anonPolicy;
    case 'authenticated':
      if (!t.user) throw new Error('authenticated tenant context without a user');
      return policyFromAbility(buildAbility(pc.rules, { role: 'authenticated', uid: t.user.id, claims: t.user.claims }));
  }
}
