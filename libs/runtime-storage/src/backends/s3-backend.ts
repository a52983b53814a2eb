import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, StorageBackend, StoredBytes } from './storage-backend';

export interface S3BackendOptions {
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
}

/**
 * Object bytes in one bucket of an S3-compatible store (AWS S3, MinIO, Ceph, R2): `<key>` as the object key.
 * Uploads go through lib-storage's multipart `Upload` (5 MiB parts, 4 in flight: memory bounded whatever the size),
 * which aborts the multipart upload when the body fails, so nothing appears under the key.
 */
export class S3Backend implements StorageBackend {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(o: S3BackendOptions) {
    this.bucket = o.bucket;
    this.client = new S3Client({
      region: o.region,
      endpoint: o.endpoint,
      forcePathStyle: o.forcePathStyle,
      ...(o.accessKeyId && o.secretAccessKey ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } } : {}),
    });
  }

  async put(key: string, body: Readable): Promise<StoredBytes> {
    const hash = createHash('md5');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const out = new PassThrough();
    const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: out }, queueSize: 4, partSize: 5 * 1024 * 1024, leavePartsOnError: false });
    const feeding = pipeline(body, tap, out);
    // Should the body fail, the upload must not complete with what arrived so far: abort it, then report the cause.
    const fed = feeding.catch(async (e: unknown) => {
      await upload.abort().catch(() => undefined);
      throw e;
    });
    out.on('error', () => undefined);
    // The body's failure (a size limit, a dropped client) is the cause to report, whatever the upload says after it.
    const [feedResult, uploadResult] = await Promise.allSettled([fed, upload.done()]);
    if (feedResult.status === 'rejected') throw feedResult.reason;
    if (uploadResult.status === 'rejected') throw uploadResult.reason;
    return { size, md5: hash.digest('hex') };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
    return r.Body as Readable;
  }

  async read(key: string, start: number, length: number): Promise<Buffer> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${start + length - 1}` }));
    const bytes = Buffer.from(await r.Body!.transformToByteArray());
    if (bytes.length !== length) throw new Error(`storage key ${key} holds fewer bytes than its metadata says`);
    return bytes;
  }

  async copy(from: string, to: string): Promise<void> {
    await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from}` }));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: Date }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, modifiedAt: o.LastModified ?? new Date(0) };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  destroy(): void {
    this.client.destroy();
  }
}
