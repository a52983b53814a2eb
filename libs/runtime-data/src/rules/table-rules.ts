import { createMongoAbility, MongoAbility, RawRuleOf } from '@casl/ability';
import { z } from 'zod';
import type { Action, ColumnTest, PolicyFn, RowCondition, Scalar, TablePolicy } from '../postgrest';
import type { TableDefinition } from '../catalog/table-definition';

/**
 * Table rules: who (`anon`, `authenticated`) may do what (`read`, `create`, `update`, `delete`) to which rows
 * (`where`, CASL's query language) and columns. Stored per table; turned per request into a CASL ability with the
 * caller's values substituted, and from that into the {@link PolicyFn} the SQL generator reads.
 */

export const RULE_ROLES = ['anon', 'authenticated'] as const;
export const RULE_ACTIONS = ['read', 'create', 'update', 'delete'] as const;
export type RuleRole = (typeof RULE_ROLES)[number];

/**
 * A `where` key that tests the caller rather than a column: `"$auth.aal": "aal2"` grants the rule only to a session
 * that passed a second factor (the access token's `aal` claim); `"aal1"` to any session (aal2 includes aal1).
 */
export const AAL_KEY = '$auth.aal';
const AAL_LEVELS = ['aal1', 'aal2'];

/** `$auth.uid`, `$auth.role`, `$auth.claims.<name>[.<name>…]`. */
const CALLER_REF = /^\$auth\.(uid|role|claims\.[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,4})$/;

const scalar = z.union([
  z
    .string()
    .max(1000)
    .refine((v) => !v.startsWith('$') || CALLER_REF.test(v), 'values starting with $ must be $auth.uid, $auth.role or $auth.claims.<name>'),
  z.number().refine(Number.isFinite, 'must be finite'),
  z.boolean(),
  z.null(),
]);
const operators = z
  .object({
    $eq: scalar.optional(),
    $ne: scalar.optional(),
    $gt: scalar.optional(),
    $gte: scalar.optional(),
    $lt: scalar.optional(),
    $lte: scalar.optional(),
    $in: z.array(scalar).max(1000).optional(),
    $nin: z.array(scalar).max(1000).optional(),
  })
  .strict()
  .refine((o) => Object.keys(o).length > 0, 'needs at least one operator');
const action = z.enum(RULE_ACTIONS);

export const ruleSchema = z
  .object({
    role: z.enum(RULE_ROLES),
    action: z.union([action, z.array(action).min(1).max(4)]),
    where: z.record(z.string().max(63), z.union([scalar, operators])).optional(),
    columns: z.array(z.string().max(63)).min(1).max(1600).optional(),
  })
  .strict();
export const rulesSchema = z.array(ruleSchema).max(100);
export type RuleInput = z.infer<typeof ruleSchema>;

/** A rule as stored: actions always a list. */
export interface StoredRule {
  role: RuleRole;
  action: Action[];
  where?: Record<string, ColumnTest>;
  columns?: string[];
}

export function normaliseRules(input: RuleInput[]): StoredRule[] {
  return input.map((r) => {
    const out: StoredRule = { role: r.role, action: [...new Set(Array.isArray(r.action) ? r.action : [r.action])] };
    if (r.where && Object.keys(r.where).length) out.where = r.where as Record<string, ColumnTest>;
    if (r.columns) out.columns = [...new Set(r.columns)];
    return out;
  });
}

/**
 * Problems of a rule set against its table. Rules of one role and action must name the same columns: the SQL
 * policy has one column list per table and action, and a union would let one rule's rows show another's columns.
 */
export function validateRules(rules: StoredRule[], table: TableDefinition): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const columns = new Set(table.columns.map((c) => c.name));
  const seen = new Map<string, string>();
  rules.forEach((r, i) => {
    for (const [name, test] of Object.entries(r.where ?? {})) {
      if (name === AAL_KEY) {
        if (typeof test !== 'string' || !AAL_LEVELS.includes(test)) problems.push({ path: `${i}.where.${name}`, message: 'must be "aal1" or "aal2"' });
      } else if (!columns.has(name)) problems.push({ path: `${i}.where.${name}`, message: `no column "${name}"` });
    }
    for (const name of r.columns ?? []) if (!columns.has(name)) problems.push({ path: `${i}.columns`, message: `no column "${name}"` });
    const cols = r.columns ? [...r.columns].sort().join(',') : '*';
    for (const a of r.action) {
      const key = `${r.role}:${a}`;
      const before = seen.get(key);
      if (before !== undefined && before !== cols) {
        problems.push({ path: `${i}.columns`, message: `rules for ${r.role} ${a} must all list the same columns` });
      }
      seen.set(key, cols);
    }
  });
  return problems;
}

/** Rename a column in rules (PATCH rename_columns keeps rules pointing at the same data). */
export function renameInRules(rules: StoredRule[], from: string, to: string): StoredRule[] {
  return rules.map((r) => ({
    ...r,
    ...(r.where ? { where: Object.fromEntries(Object.entries(r.where).map(([k, v]) => [k === from ? to : k, v])) } : {}),
    ...(r.columns ? { columns: r.columns.map((c) => (c === from ? to : c)) } : {}),
  }));
}

/** Whether any rule mentions `column` (a column in use by a rule can't be dropped). */
export function rulesMention(rules: StoredRule[], column: string): boolean {
  return rules.some((r) => (r.where && column in r.where) || r.columns?.includes(column));
}

/** Who is asking, for `$auth.*` values. */
export interface Caller {
  role: RuleRole;
  uid: string | null;
  claims: Record<string, unknown>;
}

const MISSING = Symbol('missing');

function resolveValue(v: unknown, caller: Caller): Scalar | typeof MISSING {
  if (typeof v !== 'string' || !v.startsWith('$auth.')) return v as Scalar;
  if (v === '$auth.uid') return caller.uid ?? MISSING;
  if (v === '$auth.role') return caller.role;
  let cur: unknown = caller.claims;
  for (const part of v.slice('$auth.claims.'.length).split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return MISSING;
    cur = (cur as Record<string, unknown>)[part];
  }
  // Only scalars compare; an object, array or absent claim can't satisfy anything.
  if (typeof cur === 'string' || typeof cur === 'boolean' || (typeof cur === 'number' && Number.isFinite(cur))) return cur;
  return MISSING;
}

/**
 * The rule's row condition with the caller's values, or null when it references something the caller doesn't have
 * (an anonymous caller's uid, a missing claim): such a rule grants nothing, rather than matching NULL columns.
 */
export function resolveWhere(where: Record<string, ColumnTest> | undefined, caller: Caller): RowCondition | null {
  if (!where) return {};
  const out: RowCondition = {};
  for (const [column, test] of Object.entries(where)) {
    if (column === AAL_KEY) {
      // A test of the caller, not of rows: met → no row condition; not met → the rule grants nothing.
      if (!(caller.claims.aal === 'aal2' || (test === 'aal1' && caller.claims.aal === 'aal1'))) return null;
      continue;
    }
    if (test === null || typeof test !== 'object') {
      const v = resolveValue(test, caller);
      if (v === MISSING) return null;
      out[column] = v;
      continue;
    }
    const ops: Record<string, Scalar | Scalar[]> = {};
    for (const [op, value] of Object.entries(test)) {
      if (Array.isArray(value)) {
        const list = value.map((x) => resolveValue(x, caller));
        if (list.some((x) => x === MISSING)) return null;
        ops[op] = list as Scalar[];
      } else {
        const v = resolveValue(value, caller);
        if (v === MISSING) return null;
        ops[op] = v;
      }
    }
    out[column] = ops as ColumnTest;
  }
  return out;
}

type TableAbility = MongoAbility<[Action, string]>;

/** The CASL ability of one caller over a project's tables. */
export function buildAbility(rulesByTable: ReadonlyMap<string, StoredRule[]>, caller: Caller): TableAbility {
  const raw: Array<RawRuleOf<TableAbility>> = [];
  for (const [table, rules] of rulesByTable) {
    for (const r of rules) {
      if (r.role !== caller.role) continue;
      const conditions = resolveWhere(r.where, caller);
      if (conditions === null) continue;
      raw.push({
        action: r.action,
        subject: table,
        ...(Object.keys(conditions).length ? { conditions } : {}),
        ...(r.columns ? { fields: r.columns } : {}),
      } as RawRuleOf<TableAbility>);
    }
  }
  return createMongoAbility<TableAbility>(raw);
}

const DENY: TablePolicy = { rows: 'none', columns: 'all' };

/**
 * The generator's policy from a CASL ability: no rule → denied; a rule without conditions → every row; otherwise
 * the rules' conditions OR-ed. Columns are the rules' `fields` (the same for every rule, see validateRules).
 */
export function policyFromAbility(ability: TableAbility): PolicyFn {
  const memo = new Map<string, TablePolicy>();
  return (table, action) => {
    const key = `${action}\u0000${table}`;
    const hit = memo.get(key);
    if (hit) return hit;
    const rules = ability.rulesFor(action, table).filter((r) => !r.inverted);
    let policy: TablePolicy = DENY;
    if (rules.length) {
      const unconditional = rules.some((r) => !r.conditions);
      const fields = rules[0].fields;
      policy = {
        rows: unconditional ? 'all' : rules.map((r) => r.conditions as RowCondition),
        columns: fields ? [...(Array.isArray(fields) ? fields : [fields])] : 'all',
      };
    }
    memo.set(key, policy);
    return policy;
  };
}
