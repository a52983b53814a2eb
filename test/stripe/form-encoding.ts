/**
 * Stripe's v1 API takes `application/x-www-form-urlencoded` bodies (and query strings for GET/DELETE) with
 * bracket notation for nesting, as produced by the stripe-node SDK (`utils.stringifyRequestData`):
 *   `metadata[org]=o1`            -> { metadata: { org: 'o1' } }
 *   `items[0][price]=price_1`     -> { items: [{ price: 'price_1' }] }
 *   `expand[]=a&expand[]=b`       -> { expand: ['a', 'b'] }
 * Values stay strings: Stripe coerces per parameter, and so does the server (see `params.ts`).
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/** Splits `a[b][0][]` into `['a', 'b', '0', '']`. A key without brackets is a single segment. */
function keySegments(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(key.slice(open))) !== null) segments.push(match[1] ?? '');
  return segments;
}

function isIndex(segment: string): boolean {
  return segment === '' || /^\d+$/.test(segment);
}

/**
 * Arrays are built as sparse objects keyed by index first, then compacted, so `items[1]` before `items[0]`
 * (or gaps) still yields a dense array in index order, like Stripe's (Rack-style) parser.
 */
type Building = { kind: 'array'; entries: Map<number, Building | string>; pushed: number } | { kind: 'object'; fields: Map<string, Building | string> };

function setPath(container: Building, segments: string[], value: string): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  const childKind: 'array' | 'object' | 'leaf' = rest.length === 0 ? 'leaf' : isIndex(rest[0] ?? '') ? 'array' : 'object';

  const getOrCreate = (existing: Building | string | undefined): Building | string => {
    if (childKind === 'leaf') return value;
    if (existing !== undefined && typeof existing !== 'string' && existing.kind === childKind) return existing;
    return childKind === 'array' ? { kind: 'array', entries: new Map(), pushed: 0 } : { kind: 'object', fields: new Map() };
  };

  if (container.kind === 'array') {
    // `[]` appends; a numeric index addresses a slot (so `items[0][price]` and `items[0][quantity]` merge).
    const index = head === '' ? 1_000_000 + container.pushed++ : Number(head);
    const child = getOrCreate(container.entries.get(index));
    container.entries.set(index, child);
    if (typeof child !== 'string') setPath(child, rest, value);
  } else {
    const child = getOrCreate(container.fields.get(head));
    container.fields.set(head, child);
    if (typeof child !== 'string') setPath(child, rest, value);
  }
}

function finish(node: Building | string): FormValue {
  if (typeof node === 'string') return node;
  if (node.kind === 'array') {
    return [...node.entries.entries()].sort(([a], [b]) => a - b).map(([, v]) => finish(v));
  }
  const out: FormObject = {};
  for (const [k, v] of node.fields) out[k] = finish(v);
  return out;
}

/** Parses a form-encoded body or query string (without the leading `?`). */
export function parseForm(input: string): FormObject {
  const root: Building = { kind: 'object', fields: new Map() };
  if (!input) return {};
  for (const pair of input.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    // `+` means space in form encoding; decode it before percent-decoding.
    const key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    const value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    setPath(root, keySegments(key), value);
  }
  const result = finish(root);
  return typeof result === 'object' && !Array.isArray(result) ? result : {};
}

/** The inverse, for tests and for `url` fields; mirrors the SDK's indexed-array format. */
export function stringifyForm(data: FormObject): string {
  const pairs: string[] = [];
  const encode = (key: string, value: FormValue): void => {
    if (typeof value === 'string') {
      pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => encode(`${key}[${i}]`, v));
    } else {
      for (const [k, v] of Object.entries(value)) encode(`${key}[${k}]`, v);
    }
  };
  for (const [k, v] of Object.entries(data)) encode(k, v);
  return pairs.join('&');
}
