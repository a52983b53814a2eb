/** Deterministic random query strings for the fuzz specs (unit and database). */

/** mulberry32: tiny seeded PRNG, so a failing case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLUMNS = ['id', 'title', 'tags', 'data', 'published', 'score', 'price', 'day', 'author_id', 'nope', 'secret'];
const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch', 'in', 'is', 'isdistinct', 'cs', 'cd', 'ov', 'fts', 'not.eq', 'not.in'];
const VALUES = ['1', '-3', '2.5', 'abc', 'a*b', '', 'null', 'true', 'not_null', '(1,2)', '("a,b",c)', '{a,b}', '{"k":1}', '2024-01-02', "'; DROP TABLE x; --", '"q"', 'ü🚀', '\\', '(', ')', ',', '.', '1e309', '11111111-1111-1111-1111-111111111111'];
const NOISE = ['(', ')', ',', '.', ':', '!', '"', '*', '->', '->>', '::', ' ', "'", ';', '\\', '{', '}', 'ü', '\u0000', 'and', 'or', 'not'];

export function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

function field(rnd: () => number): string {
  let f = pick(rnd, COLUMNS);
  if (rnd() < 0.2) f += pick(rnd, ['->', '->>']) + pick(rnd, ['a', '0', 'k', 'x y']);
  return f;
}

function noise(rnd: () => number, n: number): string {
  return Array.from({ length: n }, () => pick(rnd, NOISE)).join('');
}

function logic(rnd: () => number, depth: number): string {
  const items = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () =>
    depth < 4 && rnd() < 0.3 ? `${rnd() < 0.2 ? 'not.' : ''}${pick(rnd, ['and', 'or'])}${logic(rnd, depth + 1)}` : `${field(rnd)}.${pick(rnd, OPS)}.${pick(rnd, VALUES)}`,
  );
  return `(${items.join(',')})`;
}

function select(rnd: () => number, depth: number): string {
  const items = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => {
    const r = rnd();
    if (r < 0.15) return '*';
    if (r < 0.3 && depth < 3) return `${rnd() < 0.5 ? 'x:' : ''}${pick(rnd, ['users', 'comments', 'orgs', 'users!author_id', 'users!posts_editor_id_fkey', 'posts', 'nope'])}${rnd() < 0.2 ? '!inner' : ''}(${select(rnd, depth + 1)})`;
    return `${rnd() < 0.3 ? 'al:' : ''}${field(rnd)}${rnd() < 0.1 ? '::' + pick(rnd, ['text', 'int4', 'bogus']) : ''}`;
  });
  return items.join(',');
}

/** One random query: mostly grammatical pieces, sometimes noise, so both the happy path and the error path run. */
export function randomQuery(rnd: () => number): URLSearchParams {
  const q = new URLSearchParams();
  const n = Math.floor(rnd() * 5);
  if (rnd() < 0.7) q.set('select', rnd() < 0.1 ? noise(rnd, 8) : select(rnd, 0));
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.5) q.append(field(rnd), `${pick(rnd, OPS)}.${pick(rnd, VALUES)}`);
    else if (r < 0.65) q.append(pick(rnd, ['or', 'and', 'not.or']), logic(rnd, 0));
    else if (r < 0.75) q.append('order', `${field(rnd)}${pick(rnd, ['', '.asc', '.desc', '.desc.nullslast', '.bogus'])}`);
    else if (r < 0.8) q.append(pick(rnd, ['limit', 'offset']), pick(rnd, ['0', '5', '-1', 'x', '99999999']));
    else if (r < 0.85) q.append(`comments.${pick(rnd, ['body', 'order', 'limit'])}`, pick(rnd, ['eq.x', 'id.desc', '2']));
    else q.append(noise(rnd, 3), noise(rnd, 6));
  }
  return q;
}

export function randomBody(rnd: () => number): unknown {
  const row = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const c of ['title', 'tags', 'data', 'published', 'score', 'price', 'day', 'nope']) {
      if (rnd() < 0.4) o[c] = pick(rnd, [null, 1, 'x', true, ['a'], { k: 1 }, 'ü🚀', "'; --", 1.5, '2024-01-01']);
    }
    return o;
  };
  const r = rnd();
  if (r < 0.1) return pick(rnd, [null, 1, 'x', [1]]);
  return r < 0.5 ? row() : Array.from({ length: Math.floor(rnd() * 4) }, row);
}

/** Every `$n` in the text is within the values and every value is used (PostgreSQL can't type unused ones). */
export function placeholdersMatch(text: string, values: unknown[]): boolean {
  const used = new Set([...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  if (used.size !== values.length) return false;
  for (let i = 1; i <= values.length; i++) if (!used.has(i)) return false;
  return true;
}
