import { api, ApiError, toApiError, unwrap } from '../api/client';
import type { CreatedKey } from '../api/types';

/**
 * The rows grid, the object browser and "invoke" talk to the project's own runtime APIs (`/p/<ref>/<runtime>/v1`),
 * as the customer's servers do, with a restricted key the console creates for itself through the management API:
 * REST, storage, functions and notification sends only, expiring after an hour, kept in this page's memory (never stored). Secret keys
 * are refused from browsers by design.
 */
const KEY_LIFETIME_MS = 60 * 60 * 1000;
export const CONSOLE_KEY_SCOPES = ['rest:*', 'storage:*', 'functions:*', 'notifications:send'];
const keys = new Map<string, { key: string; expiresAt: number }>();

export async function consoleDataKey(ref: string): Promise<string> {
  const held = keys.get(ref);
  if (held && held.expiresAt - Date.now() > 5 * 60 * 1000) return held.key;
  const expiresAt = Date.now() + KEY_LIFETIME_MS;
  const created = await unwrap<CreatedKey>(
    api.POST('/v1/projects/{ref}/keys', {
      params: { path: { ref } },
      body: { type: 'restricted', name: 'Console data browser', scopes: CONSOLE_KEY_SCOPES, expires_at: new Date(expiresAt).toISOString() },
    }),
  );
  keys.set(ref, { key: created.key, expiresAt });
  return created.key;
}

/** A call to one of the project's runtimes with the console's key; a refusal is thrown as an {@link ApiError}. */
export async function runtimeFetch(ref: string, runtime: 'rest' | 'storage' | 'functions' | 'notifications', path: string, init: RequestInit = {}): Promise<Response> {
  const key = await consoleDataKey(ref);
  let res: Response;
  try {
    res = await fetch(`/p/${encodeURIComponent(ref)}/${runtime}/v1/${path}`, { ...init, headers: { apikey: key, ...init.headers } });
  } catch {
    throw new ApiError(0, 'Could not reach the server; check your connection', 'network', {});
  }
  if (!res.ok && runtime !== 'functions') {
    // PostgREST's {message, code}, storage's {statusCode, error, message}.
    const body = (await res.json().catch(() => ({}))) as { message?: string; code?: string };
    throw toApiError(res.status, body);
  }
  return res;
}

export interface RowsPage {
  rows: Array<Record<string, unknown>>;
  total: number | null;
}

export type FilterOp = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'ilike' | 'is';
export interface RowFilter {
  column: string;
  op: FilterOp;
  value: string;
}

/** PostgREST query parameters for a page of rows: `select`, filters (`col=op.value`), `order`, `limit`, `offset`. */
export function rowsQuery(opts: { filters: RowFilter[]; order?: string; limit: number; offset: number }): URLSearchParams {
  const q = new URLSearchParams({ select: '*' });
  for (const f of opts.filters) {
    if (!f.column || f.value === '') continue;
    const value = f.op === 'ilike' && !f.value.includes('*') ? `*${f.value}*` : f.value;
    q.append(f.column, `${f.op}.${value}`);
  }
  if (opts.order) q.set('order', opts.order);
  q.set('limit', String(opts.limit));
  q.set('offset', String(opts.offset));
  return q;
}

/** `0-49/120` → 120; `*` or missing → null. */
export function totalFromContentRange(header: string | null): number | null {
  const total = header?.split('/')[1];
  return total && total !== '*' ? Number(total) : null;
}

function rest(ref: string, path: string, init: RequestInit = {}): Promise<Response> {
  return runtimeFetch(ref, 'rest', path, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
}

export async function fetchRows(ref: string, table: string, q: URLSearchParams): Promise<RowsPage> {
  const res = await rest(ref, `${encodeURIComponent(table)}?${q}`, { headers: { prefer: 'count=exact' } });
  return { rows: (await res.json()) as RowsPage['rows'], total: totalFromContentRange(res.headers.get('content-range')) };
}

export async function insertRow(ref: string, table: string, row: Record<string, unknown>): Promise<void> {
  await rest(ref, encodeURIComponent(table), { method: 'POST', body: JSON.stringify(row), headers: { prefer: 'return=minimal' } });
}

/** Updates the row whose primary key columns equal `key`. */
export async function updateRow(ref: string, table: string, key: Record<string, unknown>, patch: Record<string, unknown>): Promise<void> {
  const q = new URLSearchParams();
  for (const [c, v] of Object.entries(key)) q.append(c, `eq.${String(v)}`);
  await rest(ref, `${encodeURIComponent(table)}?${q}`, { method: 'PATCH', body: JSON.stringify(patch), headers: { prefer: 'return=minimal' } });
}

export async function deleteRow(ref: string, table: string, key: Record<string, unknown>): Promise<void> {
  const q = new URLSearchParams();
  for (const [c, v] of Object.entries(key)) q.append(c, `eq.${String(v)}`);
  await rest(ref, `${encodeURIComponent(table)}?${q}`, { method: 'DELETE', headers: { prefer: 'return=minimal' } });
}

/** A cell's text back into a JSON value for its column type (empty text → null). */
export function parseCell(type: string, text: string): unknown {
  if (text === '') return null;
  const base = type.replace(/\(.*\)$/, '');
  if (base === 'int4' || base === 'int8' || base === 'float8' || base === 'numeric') {
    const n = Number(text);
    if (!Number.isFinite(n)) throw new Error(`"${text}" is not a number`);
    return n;
  }
  if (base === 'bool') {
    if (/^(true|t|yes|1)$/i.test(text)) return true;
    if (/^(false|f|no|0)$/i.test(text)) return false;
    throw new Error(`"${text}" is not true or false`);
  }
  if (base === 'jsonb' || type.endsWith('[]')) {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error('not valid JSON');
    }
  }
  return text;
}

/** How a cell shows: objects as JSON, null as an empty cell. */
export function showCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
