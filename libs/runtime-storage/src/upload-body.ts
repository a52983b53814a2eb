import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable, Transform } from 'node:stream';
import { StorageException } from './storage.exception';

/** An upload's bytes as a stream, with what its request says about them. */
export interface UploadBody {
  stream: Readable;
  contentType: string;
  cacheControl: string | undefined;
  metadata: Record<string, unknown> | null;
  /** The byte count the request declares for the file (raw bodies with Content-Length), if it does. */
  declaredSize: number | undefined;
}

const MAX_METADATA = 8 * 1024;

/** `max-age=3600` from `3600` (supabase-js's form field) or the header as sent; bounded. */
function cacheControlOf(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
   
  if (v.length > 200 || /[\u0000-\u001f\u007f]/.test(v)) throw StorageException.invalid('Invalid cache-control');
  return /^\d+$/.test(v) ? `max-age=${v}` : v;
}

function metadataOf(raw: string | undefined, base64: boolean): Record<string, unknown> | null {
  if (raw === undefined || raw === '') return null;
  if (raw.length > MAX_METADATA) throw StorageException.invalid('metadata is too large');
  try {
    const value: unknown = JSON.parse(base64 ? Buffer.from(raw, 'base64').toString('utf8') : raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw StorageException.invalid('metadata must be a JSON object');
  }
}

/** A content type as stored: `type/subtype` and its parameters, sane length, no control characters; or 400. */
export function contentTypeOf(v: string | undefined): string {
  const type = (v ?? '').trim() || 'application/octet-stream';
   
  if (type.length > 200 || /[\u0000-\u001f\u007f]/.test(type) || !/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/.test(type)) throw StorageException.invalid(`Invalid content-type`);
  return type;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The file of an upload request: a `multipart/form-data` body (supabase-js's Blob and FormData uploads: fields
 * `cacheControl`, `metadata`, then one file part) through busboy, or the raw body with `content-type`,
 * `cache-control` and base64 `x-metadata` headers. Nothing is buffered: the file part is handed on as a stream as
 * soon as its headers arrive.
 */
export function readUpload(req: IncomingMessage): Promise<UploadBody> {
  const type = header(req, 'content-type') ?? '';
  if (!/^multipart\/form-data/i.test(type)) {
    const length = header(req, 'content-length');
    return Promise.resolve({
      stream: req,
      contentType: contentTypeOf(type),
      cacheControl: cacheControlOf(header(req, 'cache-control')),
      metadata: metadataOf(header(req, 'x-metadata'), true),
      declaredSize: length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined,
    });
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: MAX_METADATA, parts: 12 } });
    } catch {
      reject(StorageException.invalid('Malformed multipart body'));
      return;
    }
    const fields: Record<string, string> = {};
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      reject(e);
    };
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (_name, file, info) => {
      if (settled) {
        file.resume();
        return;
      }
      try {
        const out = new PassThrough();
        // Errors of the multipart stream (a truncated body, an aborted request) reach the file's consumer.
        bb.on('error', (e) => out.destroy(e as Error));
        req.on('aborted', () => out.destroy(new Error('upload aborted')));
        file.on('error', (e) => out.destroy(e));
        file.pipe(out);
        settled = true;
        resolve({
          stream: out,
          contentType: contentTypeOf(fields.contentType ?? info.mimeType),
          cacheControl: cacheControlOf(fields.cacheControl),
          metadata: metadataOf(fields.metadata, false),
          declaredSize: undefined,
        });
      } catch (e) {
        file.resume();
        fail(e);
      }
    });
    bb.on('error', () => fail(StorageException.invalid('Malformed multipart body')));
    bb.on('partsLimit', () => fail(StorageException.invalid('Too many parts in the multipart body')));
    bb.on('close', () => fail(StorageException.invalid('The multipart body has no file')));
    req.pipe(bb);
  });
}

/**
 * Passes bytes through until `limit` is passed, then fails with `onExceed()` (nothing past the limit is forwarded):
 * the size limit is enforced while the upload streams, not after it.
 */
export function byteLimit(limit: number, onExceed: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) return done(onExceed());
      done(null, chunk);
    },
  });
}
