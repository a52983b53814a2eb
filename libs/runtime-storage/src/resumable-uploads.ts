import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { Clock } from '@plinth/common';
import type { TenantContext } from '@plinth/gateway';
import { STORAGE_BACKEND, StorageBackend } from './backends/storage-backend';
import { bucketId, objectName } from './object-path';
import { StorageException } from './storage.exception';
import { StorageRepository, UploadRow } from './storage.repository';
import { StorageService } from './storage.service';
import { byteLimit, contentTypeOf } from './upload-body';

export const TUS_VERSION = '1.0.0';
/** An upload not finished within this long is abandoned: refused afterwards, its parts swept. */
export const RESUMABLE_TTL_MS = 24 * 3600_000;

/** Who may continue an upload: the key that created it, and the end user when there was one. */
const creatorOf = (t: TenantContext) => `${t.keyId}:${t.user?.id ?? ''}`;

/** `Upload-Metadata: key base64,key base64` → its values (TUS 1.0). */
function parseMetadata(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  if (header.length > 8192) throw StorageException.invalid('Upload-Metadata is too large');
  for (const pair of header.split(',')) {
    const [key, value] = pair.trim().split(' ');
    if (!key) continue;
    out[key] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function nonNegative(v: string | undefined, name: string): number {
  if (v === undefined || !/^\d{1,16}$/.test(v)) throw StorageException.invalid(`${name} must be a non-negative integer`);
  return Number(v);
}

/**
 * Resumable uploads with the TUS 1.0 core protocol at `/upload/resumable` (what supabase-js documents for large
 * files, through tus-js-client), with the creation and termination extensions. Creation is judged like an upload
 * (rules, the declared length against the limits, type, quota, existing object); each PATCH streams its chunk to a
 * part of its own in the backend and then moves the offset, so a dropped connection loses at most the chunk in
 * flight and the client resumes from the offset HEAD reports. The last chunk assembles the parts into the object's
 * bytes and commits it as any upload; abandoned uploads expire after a day.
 */
@Injectable()
export class ResumableUploads {
  constructor(
    @Inject(STORAGE_BACKEND) private readonly backend: StorageBackend,
    private readonly storage: StorageService,
    private readonly repo: StorageRepository,
    private readonly clock: Clock,
  ) {}

  /** POST: the new upload's id and expiry. */
  async create(t: TenantContext, req: IncomingMessage): Promise<{ id: string; expiresAt: Date }> {
    if (headerOf(req, 'upload-defer-length')) throw StorageException.invalid('Upload-Defer-Length is not supported');
    const length = nonNegative(headerOf(req, 'upload-length'), 'Upload-Length');
    const meta = parseMetadata(headerOf(req, 'upload-metadata'));
    const bucket = bucketId(meta.bucketName);
    const name = objectName(meta.objectName);
    const contentType = contentTypeOf(meta.contentType);
    const upsert = headerOf(req, 'x-upsert') === 'true';
    const b = await this.storage.bucket(t.project, bucket);
    await this.storage.admitWrite(t, b, name, { contentType, size: length, upsert, signed: false });
    let metadata: Record<string, unknown> | null = null;
    if (meta.metadata) {
      try {
        metadata = JSON.parse(meta.metadata) as Record<string, unknown>;
      } catch {
        throw StorageException.invalid('metadata must be JSON');
      }
    }
    const id = randomUUID();
    const expiresAt = new Date(this.clock.nowMs() + RESUMABLE_TTL_MS);
    await this.repo.createUpload(t.project, {
      id,
      bucket_id: bucket,
      name,
      owner_id: t.user?.id ?? null,
      creator: creatorOf(t),
      upsert,
      length,
      content_type: contentType,
      cache_control: meta.cacheControl ? (/^\d+$/.test(meta.cacheControl) ? `max-age=${meta.cacheControl}` : meta.cacheControl.slice(0, 200)) : null,
      user_metadata: metadata,
      expires_at: expiresAt,
    });
    return { id, expiresAt };
  }

  /** HEAD: where the upload stands. */
  async status(t: TenantContext, id: string): Promise<UploadRow> {
    return this.find(t, id);
  }

  /**
   * PATCH: appends the body at `Upload-Offset` (409 if that isn't the current offset); the new offset. The last
   * chunk commits the object.
   */
  async append(t: TenantContext, id: string, req: IncomingMessage): Promise<number> {
    if (!/^application\/offset\+octet-stream\b/i.test(headerOf(req, 'content-type') ?? '')) {
      throw new StorageException(415, 'InvalidContentType', 'invalid_content_type', 'PATCH bodies must be application/offset+octet-stream');
    }
    const u = await this.find(t, id);
    const offset = nonNegative(headerOf(req, 'upload-offset'), 'Upload-Offset');
    if (offset !== u.offset) throw new StorageException(409, 'InvalidOffset', 'Conflict', `Upload-Offset is ${u.offset}`);
    const remaining = u.length - u.offset;
    const part = `${t.project.ref}/_uploads/${u.id}/${u.offset}-${randomUUID().slice(0, 8)}`;
    const limited = byteLimit(remaining, () => StorageException.tooLarge(u.length));
    limited.on('error', () => undefined);
    req.on('error', (e) => limited.destroy(e));
    req.once('close', () => {
      if (!req.complete) limited.destroy(new Error('upload aborted'));
    });
    req.pipe(limited);
    let size: number;
    try {
      size = (await this.backend.put(part, limited)).size;
    } catch (e) {
      req.unpipe(limited);
      throw e instanceof StorageException ? e : StorageException.invalid('The chunk was interrupted; resume from the offset HEAD reports');
    }
    if (!(await this.repo.addUploadPart(t.project, u.id, u.offset, size, part))) {
      await this.storage.dropBytes([part]);
      throw new StorageException(409, 'InvalidOffset', 'Conflict', 'Another request moved the offset');
    }
    const now = u.offset + size;
    if (now === u.length) await this.finish(t, { ...u, offset: now, parts: [...u.parts, part] });
    return now;
  }

  /** DELETE (termination): the upload and its parts are gone. */
  async terminate(t: TenantContext, id: string): Promise<void> {
    await this.find(t, id);
    const u = await this.repo.deleteUpload(t.project, id);
    if (u) await this.storage.dropBytes(u.parts);
  }

  /** Concatenates the parts into the object's bytes (streamed, one part at a time) and commits them. */
  private async finish(t: TenantContext, u: UploadRow): Promise<void> {
    const b = await this.storage.bucket(t.project, u.bucket_id);
    const write = await this.storage.admitWrite(t, b, u.name, { contentType: u.content_type, size: u.length, upsert: u.upsert, signed: false });
    const version = randomUUID();
    const key = `${t.project.ref}/${u.bucket_id}/${version}`;
    const backend = this.backend;
    const joined = Readable.from(
      (async function* () {
        for (const part of u.parts) yield* await backend.get(part);
      })(),
    ).pipe(new PassThrough());
    const stored = await this.backend.put(key, joined);
    await this.storage.commitWrite(t, b, u.name, { key, version, size: stored.size, md5: stored.md5 }, { contentType: u.content_type, cacheControl: u.cache_control ?? undefined, metadata: u.user_metadata }, write);
    const done = await this.repo.deleteUpload(t.project, u.id);
    await this.storage.dropBytes(done?.parts ?? u.parts);
  }

  /** The caller's unexpired upload (created with the same key, by the same end user if any), or 404. */
  private async find(t: TenantContext, id: string): Promise<UploadRow> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw StorageException.objectNotFound();
    const u = await this.repo.upload(t.project, id, this.clock.now());
    const mine = u !== null && u.creator === creatorOf(t);
    if (!u || !mine) throw StorageException.objectNotFound();
    return u;
  }
}
