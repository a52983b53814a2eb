import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, StorageBackend } from './backends/storage-backend';
import type { ObjectRow } from './storage.repository';
import { StorageException } from './storage.exception';

/**
 * Types a browser could run as script or render as a page on the API's origin: served as attachments, never inline,
 * whatever bucket they come from (with `nosniff`, nothing else is reinterpreted as one).
 */
const ACTIVE_TYPES = /^(text\/(html|xml|javascript|ecmascript|xsl)|application\/(xhtml\+xml|xml|javascript|ecmascript|x-javascript|x-shockwave-flash|pdf)|image\/svg\+xml|multipart\/x-mixed-replace)\b/i;

/** Objects (or ranges) up to this size are read in one call and sent with one write, without a stream pipeline. */
export const SMALL_OBJECT_BYTES = 64 * 1024;

/** How many bytes of small objects each instance keeps in memory ({@link SmallObjectCache}). */
export const SMALL_OBJECT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * The bytes of small objects (≤ {@link SMALL_OBJECT_BYTES}) most recently served, by byte key, within a byte budget
 * (least recently used out first). A byte key is written once and never overwritten, so a copy can't go stale and
 * needs no invalidation across instances: which key an object has is always read from its metadata, and a key that
 * no row points at any more (replaced, deleted) is never asked for again — its copy just ages out.
 */
export class SmallObjectCache {
  private readonly entries = new Map<string, Buffer>();
  private size = 0;

  constructor(private readonly budget = SMALL_OBJECT_CACHE_BYTES) {}

  get(key: string): Buffer | undefined {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, bytes: Buffer): void {
    if (bytes.length > SMALL_OBJECT_BYTES || bytes.length > this.budget || this.entries.has(key)) return;
    this.entries.set(key, bytes);
    this.size += bytes.length;
    for (const [k, v] of this.entries) {
      if (this.size <= this.budget) break;
      this.entries.delete(k);
      this.size -= v.length;
    }
  }
}

export const etagOf = (o: Pick<ObjectRow, 'etag'>) => `"${o.etag}"`;

/** `Range: bytes=a-b | a- | -n` against `size`: the range, undefined (whole object), or 416. Multi-range isn't served. */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) throw StorageException.range(size);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) throw StorageException.range(size);
  return { start, end };
}

/** RFC 6266 `attachment` with an ASCII fallback and the UTF-8 name. */
function disposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * Answers a download of `o`: validators (ETag, Last-Modified; If-None-Match → 304), Cache-Control, the stored type
 * with `nosniff`, `attachment` for active types or when `download` asks, Range (206/416), and the bytes streamed from
 * the backend with back-pressure (HEAD: headers only).
 */
export async function serveObject(
  backend: StorageBackend,
  req: IncomingMessage,
  res: ServerResponse,
  o: ObjectRow,
  download: string | undefined,
  small?: SmallObjectCache,
): Promise<void> {
  const etag = etagOf(o);
  res.setHeader('etag', etag);
  res.setHeader('last-modified', new Date(o.updated_at).toUTCString());
  res.setHeader('cache-control', o.cache_control);
  res.setHeader('content-type', o.mime_type);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('accept-ranges', 'bytes');
  const name = o.name.slice(o.name.lastIndexOf('/') + 1);
  if (download !== undefined) res.setHeader('content-disposition', disposition(download || name));
  else if (ACTIVE_TYPES.test(o.mime_type)) res.setHeader('content-disposition', disposition(name));

  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*')) {
    res.statusCode = 304;
    res.end();
    return;
  }
  const range = o.size > 0 ? parseRange(req.headers.range, o.size) : undefined;
  if (range) {
    res.statusCode = 206;
    res.setHeader('content-range', `bytes ${range.start}-${range.end}/${o.size}`);
    res.setHeader('content-length', range.end - range.start + 1);
  } else {
    res.statusCode = 200;
    res.setHeader('content-length', o.size);
  }
  if (req.method === 'HEAD' || o.size === 0) {
    res.end();
    return;
  }
  if (backend.read && o.size <= SMALL_OBJECT_BYTES) {
    // The whole object in one read (kept for the next download), the range cut from it. A failure here comes before
    // any byte is sent: the edge answers it, as it does get()'s.
    let bytes = small?.get(o.key);
    if (bytes === undefined) {
      bytes = await backend.read(o.key, 0, o.size);
      small?.set(o.key, bytes);
    }
    res.end(range ? bytes.subarray(range.start, range.end + 1) : bytes);
    return;
  }
  const body = await backend.get(o.key, range);
  try {
    await pipeline(body, res);
  } catch {
    // The client went away, or the backend failed mid-body: the response can't be repaired, only cut.
    res.destroy();
  }
}
