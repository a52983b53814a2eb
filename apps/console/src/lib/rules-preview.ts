/**
 * Plain-language reading of a table's rules, shown beside the rules editor so a customer sees what a rule set means
 * before saving it: "Signed-in users can read and update rows where owner_id is their id".
 */
export type RuleAction = 'read' | 'create' | 'update' | 'delete';
export interface RuleLike {
  role: 'anon' | 'authenticated';
  action: RuleAction | RuleAction[];
  where?: Record<string, unknown>;
  columns?: string[];
}

const WHO: Record<RuleLike['role'], string> = { anon: 'Anyone with the publishable key', authenticated: 'Signed-in users' };
const VERB: Record<RuleAction, string> = { read: 'read', create: 'create', update: 'update', delete: 'delete' };
const OPS: Record<string, string> = {
  $eq: 'is',
  $ne: 'is not',
  $gt: 'is greater than',
  $gte: 'is at least',
  $lt: 'is less than',
  $lte: 'is at most',
  $in: 'is one of',
  $nin: 'is none of',
  $startsWith: 'starts with',
};

/** A rule value in words: `$auth.uid` is "their id", `$auth.claims.team` "their team claim". */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') {
    if (v === '$auth.uid') return 'their id';
    if (v === '$auth.role') return 'their role';
    if (v.startsWith('$auth.claims.')) return `their ${v.slice('$auth.claims.'.length)} claim`;
    // `$auth.uid` leading a string (storage's per-user folder, "$auth.uid/"): their id, then the rest.
    if (v.startsWith('$auth.uid')) return `their id followed by ${JSON.stringify(v.slice('$auth.uid'.length))}`;
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return v.map(describeValue).join(', ');
  if (v === null) return 'empty';
  return String(v);
}

function describeTest(column: string, test: unknown): string[] {
  if (test !== null && typeof test === 'object' && !Array.isArray(test)) {
    return Object.entries(test as Record<string, unknown>).map(([op, value]) => {
      const words = OPS[op] ?? op;
      if (value === null && op === '$eq') return `${column} is empty`;
      if (value === null && op === '$ne') return `${column} is not empty`;
      return `${column} ${words} ${op === '$in' || op === '$nin' ? `[${describeValue(value)}]` : describeValue(value)}`;
    });
  }
  if (test === null) return [`${column} is empty`];
  return [`${column} is ${describeValue(test)}`];
}

/** "read, update and delete". */
function list(words: string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** One rule in a sentence; `noun` names what the rule opens ("rows" of a table, "files" of a bucket). */
export function describeRule(rule: RuleLike, noun = 'rows'): string {
  const actions = Array.isArray(rule.action) ? rule.action : [rule.action];
  const conditions = Object.entries(rule.where ?? {}).flatMap(([c, t]) => describeTest(c, t));
  let s = `${WHO[rule.role]} can ${list(actions.map((a) => VERB[a]))} ${noun}`;
  if (conditions.length) s += ` where ${list(conditions)}`;
  if (rule.columns?.length) s += ` (columns ${rule.columns.join(', ')} only)`;
  return s;
}

/** The whole rule set, one sentence per rule; a table without rules is reachable with a secret key only. */
export function describeRules(rules: RuleLike[], what: { noun: string; place: string } = { noun: 'rows', place: 'table' }): string[] {
  if (!rules.length) return [`No rules: only server keys (secret or restricted) can reach this ${what.place}.`];
  const lines = rules.map((r) => describeRule(r, what.noun));
  const roles = new Set(rules.map((r) => r.role));
  if (!roles.has('anon')) lines.push('Anyone without a signed-in user can do nothing.');
  return lines;
}
