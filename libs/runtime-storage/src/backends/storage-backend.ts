import type { Readable } from 'node:stream';

/** What was stored: the byte count and the MD5 of the bytes (hex), the object's ETag. */
export interface StoredBytes {
  size: number;
  md5: string;
}

/** An inclusive byte range, already checked against the object's size. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where object bytes live. Keys are built by the storage service from the project, bucket and an internal version id
 * (`<project ref>/<bucket>/<uuid>`), never from a user's path; a key is written once and never overwritten.
 * `put` streams with back-pressure and makes the key visible only once every byte is stored (a temporary name on
 * disk, a multipart upload on S3): a refused or aborted write leaves nothing under `key`.
 */
export interface StorageBackend {
  readonly kind: 'disk' | 's3';
  /** Streams `body` to `key`. Rejects (leaving nothing) when `body` errors or is destroyed. */
  put(key: string, body: Readable): Promise<StoredBytes>;
  /** The bytes (or `range` of them) of `key` as a stream. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /**
   * The `length` bytes of `key` from `start` in one buffer, for small objects (optional: a backend without it serves
   * them through {@link get}). Rejects if the stored bytes are fewer than `length`.
   */
  read?(key: string, start: number, length: number): Promise<Buffer>;
  /** Copies the bytes of `from` to the new key `to` (server side on S3). */
  copy(from: string, to: string): Promise<void>;
  /** Removes keys; a key that doesn't exist is no error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every key under `prefix` (`<ref>/`), with when it was written: the orphan sweeper compares them with metadata. */
  list(prefix: string): AsyncIterable<{ key: string; modifiedAt: Date }>;
}

/** Injection token of the configured backend. */
export const STORAGE_BACKEND = Symbol('STORAGE_BACKEND');
