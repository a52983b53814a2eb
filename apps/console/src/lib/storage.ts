import { runtimeFetch } from './rest';
import type { RuleAction, RuleLike } from './rules-preview';

/**
 * The object browser's calls to the project's storage API (`/p/<ref>/storage/v1`, supabase-storage's wire shape)
 * with the console's restricted key, which reaches every bucket whatever its rules (like any server key).
 */
export interface StorageEntry {
  name: string;
  /** null for a folder (a common prefix of objects), as supabase-storage lists them */
  id: string | null;
  updated_at?: string | null;
  metadata?: { size?: number; mimetype?: string } | null;
}

/** Path segments encoded one by one, so "a b/c.txt" stays two segments. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The folder a browser shows, as a prefix ending in "/" ("" for the bucket's top). */
export function folderPrefix(segments: string[]): string {
  return segments.length ? `${segments.join('/')}/` : '';
}

/** "photos/2024/" → [{name: 'photos', prefix: 'photos/'}, {name: '2024', prefix: 'photos/2024/'}]. */
export function breadcrumbs(prefix: string): Array<{ name: string; prefix: string }> {
  const parts = prefix.split('/').filter(Boolean);
  return parts.map((name, i) => ({ name, prefix: folderPrefix(parts.slice(0, i + 1)) }));
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A size limit as typed: digits are bytes, "10MB" goes to the API as it is (the API reads units); empty is none. */
export function sizeLimitValue(text: string): number | string | null {
  const t = text.trim();
  if (!t) return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

/** One page of a folder's entries (folders and files, by name), through the list endpoint's limit and offset. */
export async function listObjects(ref: string, bucket: string, prefix: string, limit = 100, offset = 0): Promise<StorageEntry[]> {
  const res = await runtimeFetch(ref, 'storage', `object/list/${encodeURIComponent(bucket)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prefix, limit, offset, sortBy: { column: 'name', order: 'asc' } }),
  });
  return (await res.json()) as StorageEntry[];
}

/** Expiries offered for a signed URL, in seconds (the API takes 1 s to a year). */
export const SIGNED_URL_EXPIRIES: Array<{ value: string; label: string }> = [
  { value: '60', label: '1 minute' },
  { value: '3600', label: '1 hour' },
  { value: '86400', label: '1 day' },
  { value: '604800', label: '1 week' },
];

/** The full URL of a signed path as the API answers it (`/object/sign/…?token=…`, relative to the storage API). */
export function signedUrl(origin: string, ref: string, signedPath: string): string {
  // Object names come back as stored (unencoded), as supabase-js reads them; encodeURI keeps "/", "?" and "=".
  return encodeURI(`${origin}/p/${ref}/storage/v1${signedPath.startsWith('/') ? '' : '/'}${signedPath}`);
}

/** A URL that downloads the object without a key until it expires. */
export async function createSignedUrl(ref: string, bucket: string, path: string, expiresIn: number): Promise<string> {
  const res = await runtimeFetch(ref, 'storage', `object/sign/${encodeURIComponent(bucket)}/${encodePath(path)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ expiresIn }),
  });
  const { signedURL } = (await res.json()) as { signedURL: string };
  return signedUrl(window.location.origin, ref, signedURL);
}

export async function uploadObject(ref: string, bucket: string, path: string, file: Blob): Promise<void> {
  await runtimeFetch(ref, 'storage', `object/${encodeURIComponent(bucket)}/${encodePath(path)}`, {
    method: 'POST',
    headers: { 'content-type': file.type || 'application/octet-stream', 'x-upsert': 'true' },
    body: file,
  });
}

/** The object's bytes (through the key, so private buckets work too), for a download link made in the page. */
export async function downloadObject(ref: string, bucket: string, path: string): Promise<Blob> {
  const res = await runtimeFetch(ref, 'storage', `object/${encodeURIComponent(bucket)}/${encodePath(path)}`);
  return res.blob();
}

export async function deleteObjects(ref: string, bucket: string, paths: string[]): Promise<void> {
  await runtimeFetch(ref, 'storage', `object/${encodeURIComponent(bucket)}`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prefixes: paths }),
  });
}

/** A bucket rule as the editor holds it: conditions as JSON text. */
export interface BucketRuleDraft {
  role: RuleLike['role'];
  actions: RuleAction[];
  where: string;
}

/** A draft as the API takes it, or the reason its conditions aren't a JSON object. */
export function bucketRuleFromDraft(d: BucketRuleDraft): { rule: RuleLike } | { problem: string } {
  if (!d.where.trim()) return { rule: { role: d.role, action: d.actions } };
  try {
    const where: unknown = JSON.parse(d.where);
    if (!where || typeof where !== 'object' || Array.isArray(where)) return { problem: 'Conditions must be a JSON object' };
    return { rule: { role: d.role, action: d.actions, where: where as Record<string, unknown> } };
  } catch {
    return { problem: 'Conditions are not valid JSON' };
  }
}
