/**
 * Cost guards for `match`/`imatch` patterns, which PostgreSQL runs with its own regex engine (Henry Spencer's, a
 * DFA/NFA hybrid) against every candidate row. Measured on PostgreSQL 15 (one backend, values of 'a'/'b'):
 *
 * - Back-references make the engine backtrack: `(.*)\1$` takes 0.6 s on ONE 1,000-character value and
 *   `(.*)(.*)\1\2$` 2.2 s on 300 characters; a table of such values is minutes. Refused outright.
 * - Counted repetitions are expanded when the pattern is compiled: 25 × `a{0,255}` compiles in 100 ms,
 *   `((a{1,30}){1,30}){1,30}` in 110 ms, `(a{1,100}){1,100}` in 20 ms, `(a{0,255}){0,255}` fails as "too complex".
 *   A bound is at most 255 (PostgreSQL's own maximum) and the bounds of one pattern add up to at most 1,000.
 * - A quantifier over a group that holds a quantifier (`(a+)+`, `(a*)*`, `(a{2}){3}`): the counted forms are the
 *   compile-time blow-ups above; the uncounted ones are the classic catastrophic shape of backtracking engines.
 *   PostgreSQL's DFA runs `^((a+)+)+$` over 3,000 characters in under a millisecond, so this rule is stricter than
 *   this engine needs — kept as one simple rule rather than a cost model of nested counts ([a-z.]+ usually does).
 * - Embedded options that change the syntax (`(?b)` basic, `(?e)` extended, `(?x)` expanded with comments) are
 *   refused, so that what is checked here is what PostgreSQL parses.
 * Everything else, alternation included (`(a|aa|aaa)*b` over 3,000 characters: 1 ms), runs in time linear in the
 * value, bounded per statement by the statement timeout.
 */
import { Errors } from './postgrest.error';
import { PostgrestLimits } from './limits';

/** PostgreSQL's RE_DUPMAX: the largest count it accepts in `{m,n}`. */
export const MAX_REPEAT = 255;
/** The sum of all `{m,n}` counts in one pattern (compile cost grows with it). */
export const MAX_REPEAT_TOTAL = 1000;

interface Group {
  /** Some quantifier applies inside this group (at any depth). */
  quantified: boolean;
}

const BOUND = /^\{(\d{1,6})(?:,(\d{0,6}))?\}/;
const OPTIONS = /^\(\?([a-z]+)\)/;

/** Throws PGRST100 (400) when the pattern is longer, or shaped more expensively, than the rules above allow. */
export function checkRegexPattern(op: 'match' | 'imatch', pattern: string, limits: PostgrestLimits): void {
  const refuse = (why: string): never => {
    throw Errors.parse('filter', `${op}.${pattern}`, `${why} in ${op} patterns`);
  };
  if (pattern.length > limits.maxRegexLength) refuse(`more than ${limits.maxRegexLength} characters are not allowed`);
  // `***=` makes the rest a literal string; `***:` only says "advanced syntax", the default.
  if (pattern.startsWith('***=')) return;
  const s = pattern.startsWith('***:') ? pattern.slice(4) : pattern;

  // A separate pass that knows nothing of brackets or groups, so no syntax can hide a back-reference from it.
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') continue;
    if (/[0-9]/.test(s[i + 1] ?? '')) refuse('back-references and octal escapes (\\1, \\01…) are not allowed');
    i++;
  }

  const stack: Group[] = [{ quantified: false }];
  /** The group just closed, when the next character may quantify it. */
  let closed: Group | null = null;
  let repeats = 0;
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    const q = quantifierAt(s, i);
    if (q) {
      if (closed?.quantified) refuse('a quantifier over a group that holds a quantifier (like (a+)+) is not allowed');
      if (q.count !== null) {
        if (q.count > MAX_REPEAT) refuse(`repetition counts above ${MAX_REPEAT} are not allowed`);
        repeats += q.count;
        if (repeats > MAX_REPEAT_TOTAL) refuse(`repetition counts adding up to more than ${MAX_REPEAT_TOTAL} are not allowed`);
      }
      stack[stack.length - 1].quantified = true;
      closed = null;
      i += q.length;
      continue;
    }
    closed = null;
    if (ch === '\\') {
      i += 2;
    } else if (ch === '[') {
      i = bracketEnd(s, i);
    } else if (ch === '(') {
      const opts = OPTIONS.exec(s.slice(i, i + 12));
      if (opts && /^[a-z]+$/.test(opts[1]) && !s.startsWith('(?:', i)) {
        if (/[bex]/.test(opts[1])) refuse('the embedded options b, e and x are not allowed');
        i += opts[0].length;
        continue;
      }
      stack.push({ quantified: false });
      // `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`: the `?` opens a kind of group, it doesn't quantify anything.
      const kind = /^\(\?(?:<[=!]|[:=!#]?)/.exec(s.slice(i, i + 4));
      i += kind ? kind[0].length : 1;
    } else if (ch === ')') {
      // An unbalanced `)` is PostgreSQL's to reject; here it just doesn't pop the root.
      const g = stack.length > 1 ? (stack.pop() as Group) : { quantified: false };
      if (g.quantified) stack[stack.length - 1].quantified = true;
      closed = g;
      i++;
    } else {
      i++;
    }
  }
}

/** A quantifier at `i` (with its non-greedy `?`): its length and the count it repeats up to (null when unbounded). */
function quantifierAt(s: string, i: number): { length: number; count: number | null } | null {
  const ch = s[i];
  let length: number;
  let count: number | null = null;
  if (ch === '*' || ch === '+' || ch === '?') {
    length = 1;
  } else if (ch === '{') {
    // In PostgreSQL's advanced syntax a `{` that doesn't start a bound is an ordinary character.
    const m = BOUND.exec(s.slice(i, i + 16));
    if (!m) return null;
    length = m[0].length;
    const lower = Number(m[1]);
    count = m[2] === undefined || m[2] === '' ? lower : Math.max(lower, Number(m[2]));
  } else {
    return null;
  }
  if (s[i + length] === '?') length++;
  return { length, count };
}

/** The index after the bracket expression starting at `i` (`[]a]`, `[^]a]`, `[[:alpha:]]`, `[\]]`). */
function bracketEnd(s: string, i: number): number {
  let j = i + 1;
  if (s[j] === '^') j++;
  if (s[j] === ']') j++;
  while (j < s.length && s[j] !== ']') {
    if (s[j] === '\\') j += 2;
    else if (s[j] === '[' && /[:.=]/.test(s[j + 1] ?? '')) {
      const close = s.indexOf(`${s[j + 1]}]`, j + 2);
      j = close < 0 ? s.length : close + 2;
    } else j++;
  }
  return j + 1;
}
