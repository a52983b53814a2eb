import { createMongoAbility, MongoAbility, RawRuleOf, subject } from '@casl/ability';
import { z } from 'zod';

/**
 * Bucket rules, shaped like table rules: who (`anon`, `authenticated`) may do what (`read`, `create`, `update`,
 * `delete`) to which objects of a bucket (`where`, CASL's query language over `owner_id`, `path`, `mime_type` and
 * `size`, plus `$startsWith` for folders). `$auth.uid` (alone, or leading a `$startsWith` like `"$auth.uid/"`) and
 * `$auth.role` are the caller's. No rules: only secret (and restricted) keys reach the bucket's objects.
 *
 * One object is judged by a CASL ability (`$startsWith` becomes an anchored `$regex`); a listing by the same
 * conditions as SQL ({@link rulesSql}), so a caller never sees a name it couldn't read.
 */

export const STORAGE_RULE_ROLES = ['anon', 'authenticated'] as const;
export const STORAGE_ACTIONS = ['read', 'create', 'update', 'delete'] as const;
export type StorageAction = (typeof STORAGE_ACTIONS)[number];
export type StorageRuleRole = (typeof STORAGE_RULE_ROLES)[number];
export const RULE_FIELDS = ['owner_id', 'path', 'mime_type', 'size'] as const;
type Field = (typeof RULE_FIELDS)[number];

const CALLER = /^\$auth\.(uid|role)(\/.*)?$/s;
const value = z.union([
  z
    .string()
    .max(1024)
    .refine((v) => !v.startsWith('$') || CALLER.test(v), 'values starting with $ must be $auth.uid or $auth.role (optionally followed by /…)'),
  z.number().refine(Number.isFinite, 'must be finite'),
  z.null(),
]);
const operators = z
  .object({
    $eq: value.optional(),
    $ne: value.optional(),
    $gt: value.optional(),
    $gte: value.optional(),
    $lt: value.optional(),
    $lte: value.optional(),
    $in: z.array(value).max(100).optional(),
    $nin: z.array(value).max(100).optional(),
    $startsWith: z.string().max(1024).optional(),
  })
  .strict()
  .refine((o) => Object.keys(o).length > 0, 'needs at least one operator');
const action = z.enum(STORAGE_ACTIONS);

export const bucketRuleSchema = z
  .object({
    role: z.enum(STORAGE_RULE_ROLES),
    action: z.union([action, z.array(action).min(1).max(4)]),
    where: z.partialRecord(z.enum(RULE_FIELDS), z.union([value, operators])).optional(),
  })
  .strict();
export const bucketRulesSchema = z.array(bucketRuleSchema).max(100);
export type BucketRuleInput = z.infer<typeof bucketRuleSchema>;

type Scalar = string | number | null;
type Test = Scalar | Partial<Record<'$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte', Scalar>> & { $in?: Scalar[]; $nin?: Scalar[]; $startsWith?: string };

/** A rule as stored: actions always a list. */
export interface StoredBucketRule {
  role: StorageRuleRole;
  action: StorageAction[];
  where?: Partial<Record<Field, Test>>;
}

export function normaliseBucketRules(input: BucketRuleInput[]): StoredBucketRule[] {
  return input.map((r) => {
    const out: StoredBucketRule = { role: r.role, action: [...new Set(Array.isArray(r.action) ? r.action : [r.action])] };
    if (r.where && Object.keys(r.where).length) out.where = r.where as StoredBucketRule['where'];
    return out;
  });
}

/** Who is asking. */
export interface StorageCaller {
  role: StorageRuleRole;
  uid: string | null;
}

/** What a rule looks at in an object. */
export interface ObjectFacts {
  owner_id: string | null;
  path: string;
  mime_type: string;
  size: number;
}

const MISSING = Symbol('missing');

function resolve(v: unknown, caller: StorageCaller): Scalar | typeof MISSING {
  if (typeof v !== 'string') return v as Scalar;
  const m = CALLER.exec(v);
  if (!m) return v;
  const base = m[1] === 'uid' ? caller.uid : caller.role;
  if (base === null) return MISSING;
  return base + (m[2] ?? '');
}

/** The rule's conditions with the caller's values, or null when it needs what the caller lacks (then it grants nothing). */
function resolveWhere(where: StoredBucketRule['where'], caller: StorageCaller): Record<string, Test> | null {
  const out: Record<string, Test> = {};
  for (const [field, test] of Object.entries(where ?? {})) {
    if (test === null || typeof test !== 'object') {
      const v = resolve(test, caller);
      if (v === MISSING) return null;
      out[field] = v;
      continue;
    }
    const ops: Record<string, Scalar | Scalar[]> = {};
    for (const [op, raw] of Object.entries(test)) {
      if (Array.isArray(raw)) {
        const list = raw.map((x) => resolve(x, caller));
        if (list.includes(MISSING)) return null;
        ops[op] = list as Scalar[];
      } else {
        const v = resolve(raw, caller);
        if (v === MISSING) return null;
        ops[op] = v;
      }
    }
    out[field] = ops as Test;
  }
  return out;
}

type ObjectAbility = MongoAbility<[StorageAction, 'object' | (ObjectFacts & { __caslSubjectType__?: string })]>;

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The CASL ability of one caller over one bucket's objects. */
export function bucketAbility(rules: readonly StoredBucketRule[], caller: StorageCaller): ObjectAbility {
  const raw: Array<RawRuleOf<ObjectAbility>> = [];
  for (const r of rules) {
    if (r.role !== caller.role) continue;
    const where = resolveWhere(r.where, caller);
    if (where === null) continue;
    const conditions: Record<string, unknown> = {};
    for (const [field, test] of Object.entries(where)) {
      if (test !== null && typeof test === 'object' && '$startsWith' in test) {
        const { $startsWith, ...rest } = test;
        conditions[field] = { ...rest, $regex: new RegExp(`^${escapeRegex(String($startsWith))}`, 's') };
      } else conditions[field] = test;
    }
    raw.push({ action: r.action, subject: 'object', ...(Object.keys(conditions).length ? { conditions } : {}) } as RawRuleOf<ObjectAbility>);
  }
  return createMongoAbility<ObjectAbility>(raw);
}

/** Whether the caller may `action` the object (or, for `create`, the object it is about to write). */
export function allows(rules: readonly StoredBucketRule[], caller: StorageCaller, action: StorageAction, facts: ObjectFacts): boolean {
  return bucketAbility(rules, caller).can(action, subject('object', { ...facts }) as never);
}

const COLUMN: Record<Field, string> = { owner_id: 'o.owner_id', path: 'o.name', mime_type: 'o.mime_type', size: 'o.size' };
const SQL_OP: Record<string, string> = { $eq: '=', $ne: '<>', $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' };

/**
 * The caller's `action` rules as one SQL condition over `o` (the objects table), with its values appended to
 * `values` as parameters: FALSE without a rule, TRUE for an unconditional one, else the rules' conditions OR-ed.
 */
export function rulesSql(rules: readonly StoredBucketRule[], caller: StorageCaller, action: StorageAction, values: unknown[]): string {
  const alternatives: string[] = [];
  for (const r of rules) {
    if (r.role !== caller.role || !r.action.includes(action)) continue;
    const where = resolveWhere(r.where, caller);
    if (where === null) continue;
    const terms: string[] = [];
    for (const [field, test] of Object.entries(where)) {
      const col = COLUMN[field as Field];
      const one = (v: unknown) => (v === null ? null : field === 'size' ? Number(v) : String(v));
      const param = (v: unknown) => {
        values.push(Array.isArray(v) ? v.map(one) : one(v));
        return `$${values.length}`;
      };
      if (test === null) terms.push(`${col} IS NULL`);
      else if (typeof test !== 'object') terms.push(`${col} = ${param(test)}`);
      else {
        for (const [op, v] of Object.entries(test)) {
          if (op === '$startsWith') terms.push(`starts_with(${col}::text, ${param(v)})`);
          else if (op === '$in') terms.push(`${col} = ANY(${param(v)})`);
          else if (op === '$nin') terms.push(`NOT (${col} = ANY(${param(v)}))`);
          else if (v === null) terms.push(op === '$ne' ? `${col} IS NOT NULL` : op === '$eq' ? `${col} IS NULL` : 'FALSE');
          else terms.push(`${col} ${SQL_OP[op]} ${param(v)}`);
        }
      }
    }
    if (terms.length === 0) return 'TRUE';
    alternatives.push(`(${terms.join(' AND ')})`);
  }
  return alternatives.length ? `(${alternatives.join(' OR ')})` : 'FALSE';
}
