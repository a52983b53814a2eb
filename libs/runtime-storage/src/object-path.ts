import { StorageException } from './storage.exception';

/** Bucket ids: what S3 and Supabase accept in practice, without anything a path or a URL would reinterpret. */
const BUCKET_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
/** Characters never allowed in an object name: C0 controls (NUL included), DEL, backslash. */
 
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;
export const MAX_NAME_BYTES = 1024;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A bucket id from a path or a body, or 400. */
export function bucketId(id: unknown): string {
  if (typeof id !== 'string' || !BUCKET_ID.test(id) || id.includes('..')) throw StorageException.invalid('Invalid bucket id: use 1-63 letters, digits, _ . -');
  return id;
}

/**
 * An object's name (its path in the bucket) as sent, or 400: at most 1024 bytes of UTF-8; no control characters,
 * NUL or backslash; no empty, `.` or `..` segment (so no leading, trailing or doubled `/`). Names are metadata only
 * (bytes are keyed by an internal id), so this is about names that mean one thing everywhere, not about escaping.
 */
export function objectName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw StorageException.invalidKey('Invalid key: an object name is required');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw StorageException.invalidKey(`Invalid key: longer than ${MAX_NAME_BYTES} bytes`);
  if (FORBIDDEN.test(name)) throw StorageException.invalidKey('Invalid key: control characters and backslashes are not allowed');
  if (LONE_SURROGATE.test(name)) throw StorageException.invalidKey('Invalid key: not valid Unicode');
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw StorageException.invalidKey('Invalid key: empty, "." and ".." segments are not allowed');
  }
  return name;
}

/** `bucket/rest/of/path` (the edge's `*`) → [bucket, name], both validated. */
export function splitBucketPath(rest: string | undefined): [string, string] {
  const s = rest ?? '';
  const i = s.indexOf('/');
  if (i < 0) throw StorageException.invalidKey('Invalid key: expected /<bucket>/<path>');
  return [bucketId(s.slice(0, i)), objectName(s.slice(i + 1))];
}

/** A list prefix: '' or a folder path (a trailing `/` is ignored), validated like a name. */
export function listPrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === null || prefix === '') return '';
  if (typeof prefix !== 'string') throw StorageException.invalid('prefix must be a string');
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' ? '' : objectName(trimmed);
}
