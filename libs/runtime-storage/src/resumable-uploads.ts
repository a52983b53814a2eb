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

/** The TUS extensions served (answered to OPTIONS as `Tus-Extension`). */
export const TUS_EXTENSIONS = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration'];

/** Whether a request carries a body (Content-Length above 0, or a chunked one). */
function hasBody(req: IncomingMessage): boolean {
  const length = headerOf(req, 'content-length');
  return length !== undefined ? length !== '0' : headerOf(req, 'transfer-encoding') !== undefined;
}

/**
 * Resumable uploads with the TUS 1.0 core protocol at `/upload/resumable` (what supabase-js documents for large
 * files, through tus-js-client), with the creation (also with the first chunk in the POST, and with the length
 * deferred to a later PATCH), termination and expiration extensions. Creation is judged like an upload (rules, the
 * declared length against the limits, type, an existing object) and reserves the length against the stored-bytes
 * quota until the upload completes or expires; each PATCH streams its chunk to a part of its own under the upload's
 * prefix in the backend (recorded as pending bytes at creation, so a crash leaves nothing the sweeper can't find) and
 * then moves the offset, so a dropped connection loses at most the chunk in flight and the client resumes from the
 * offset HEAD reports. The last chunk assembles the parts into the object's bytes and commits it as any upload;
 * abandoned uploads expire after a day.
 */
@Injectable()
export class ResumableUploads {
  constructor(
    @Inject(STORAGE_BACKEND) private readonly backend: StorageBackend,
    private readonly storage: StorageService,
    private readonly repo: StorageRepository,
    private readonly clock: Clock,
  ) {}

  /** Where an upload's parts live (its pending prefix). */
  private prefix(t: TenantContext, id: string): string {
    return `${t.project.ref}/_uploads/${id}/`;
  }

  /** The largest upload the project's plan takes (OPTIONS' `Tus-Max-Size`; a bucket's own limit may be lower). */
  maxSize(t: TenantContext): Promise<number> {
    return this.storage.planUploadMax(t.project);
  }

  /** POST: the new upload's id and expiry. */
  async create(t: TenantContext, req: IncomingMessage): Promise<{ id: string; length: number | null; expiresAt: Date }> {
    const defer = headerOf(req, 'upload-defer-length');
    if (defer !== undefined && defer !== '1') throw StorageException.invalid('Upload-Defer-Length must be 1');
    const given = headerOf(req, 'upload-length');
    if (defer !== undefined && given !== undefined) throw StorageException.invalid('Send Upload-Length or Upload-Defer-Length, not both');
    const length = defer !== undefined ? null : nonNegative(given, 'Upload-Length');
    const meta = parseMetadata(headerOf(req, 'upload-metadata'));
    const bucket = bucketId(meta.bucketName);
    const name = objectName(meta.objectName);
    const contentType = contentTypeOf(meta.contentType);
    const upsert = headerOf(req, 'x-upsert') === 'true';
    const b = await this.storage.bucket(t.project, bucket);
    await this.storage.admitWrite(t, b, name, { contentType, size: length ?? undefined, upsert, signed: false });
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
    // The parts' prefix is pending until the upload is done (or the sweeper takes it after expiry), holding the
    // declared length against the quota meanwhile.
    await this.storage.reserve(t.project, this.prefix(t, id), length ?? 0, false, { prefix: true, sweepAfter: expiresAt });
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
    return { id, length, expiresAt };
  }

  /**
   * creation-with-upload: the POST's body, if any, as the first chunk (at offset 0); the offset reached, or null.
   * An upload of length 0 is complete as created: its (empty) object is committed now.
   */
  async createWithBody(t: TenantContext, created: { id: string; length: number | null }, req: IncomingMessage): Promise<number | null> {
    if (hasBody(req)) return this.append(t, created.id, req, 0);
    if (created.length !== 0) return null;
    await this.finish(t, await this.find(t, created.id));
    return 0;
  }

  /** HEAD: where the upload stands. */
  async status(t: TenantContext, id: string): Promise<UploadRow> {
    return this.find(t, id);
  }

  /**
   * PATCH: appends the body at `Upload-Offset` (409 if that isn't the current offset); the new offset. A deferred
   * length is set by the first PATCH that sends `Upload-Length` (judged against the limits and the quota then). The
   * chunk that reaches the length commits the object.
   */
  async append(t: TenantContext, id: string, req: IncomingMessage, atOffset?: number): Promise<number> {
    if (!/^application\/offset\+octet-stream\b/i.test(headerOf(req, 'content-type') ?? '')) {
      throw new StorageException(415, 'InvalidContentType', 'invalid_content_type', 'PATCH bodies must be application/offset+octet-stream');
    }
    let u = await this.find(t, id);
    const offset = atOffset ?? nonNegative(headerOf(req, 'upload-offset'), 'Upload-Offset');
    if (offset !== u.offset) throw new StorageException(409, 'InvalidOffset', 'Conflict', `Upload-Offset is ${u.offset}`);
    const given = headerOf(req, 'upload-length');
    let limit = u.length;
    if (u.length === null) {
      const b = await this.storage.bucket(t.project, u.bucket_id);
      const max = await this.storage.uploadLimit(t.project, b);
      if (given !== undefined) {
        const length = nonNegative(given, 'Upload-Length');
        if (length < u.offset) throw StorageException.invalid(`Upload-Length is below the offset ${u.offset}`);
        if (length > max) throw StorageException.tooLarge(max);
        await this.storage.reserve(t.project, this.prefix(t, id), length, false, { prefix: true, sweepAfter: new Date(u.expires_at) });
        if (!(await this.repo.setUploadLength(t.project, id, length))) throw new StorageException(409, 'InvalidOffset', 'Conflict', 'Upload-Length was set already');
        u = { ...u, length };
      }
      limit = u.length ?? max;
    } else if (given !== undefined && Number(given) !== u.length) {
      throw StorageException.invalid('Upload-Length cannot change');
    }
    const total = limit as number;
    const remaining = total - u.offset;
    const part = `${this.prefix(t, id)}${u.offset}-${randomUUID().slice(0, 8)}`;
    const limited = byteLimit(remaining, () => StorageException.tooLarge(total));
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
      await this.storage.discard(t.project, [part]);
      throw new StorageException(409, 'InvalidOffset', 'Conflict', 'Another request moved the offset');
    }
    const now = u.offset + size;
    if (now === u.length) await this.finish(t, { ...u, offset: now, parts: [...u.parts, part] });
    return now;
  }

  /** DELETE (termination): the upload and its parts are gone, and its reservation with them. */
  async terminate(t: TenantContext, id: string): Promise<void> {
    await this.find(t, id);
    const u = await this.repo.deleteUpload(t.project, id);
    if (u) await this.dropParts(t, id, u.parts);
  }

  /** Deletes an upload's parts, then its pending prefix (a crash in between: the sweeper lists the prefix at expiry). */
  private async dropParts(t: TenantContext, id: string, parts: string[]): Promise<void> {
    await this.storage.discard(t.project, parts);
    await this.repo.forgetPending(t.project, [this.prefix(t, id)]);
  }

  /** Concatenates the parts into the object's bytes (streamed, one part at a time) and commits them. */
  private async finish(t: TenantContext, u: UploadRow): Promise<void> {
    const b = await this.storage.bucket(t.project, u.bucket_id);
    const write = await this.storage.admitWrite(t, b, u.name, { contentType: u.content_type, size: u.length ?? undefined, upsert: u.upsert, signed: false });
    const version = randomUUID();
    const key = `${t.project.ref}/${u.bucket_id}/${version}`;
    // Its bytes are held already by the upload's own reservation.
    await this.storage.reserve(t.project, key, 0, false, { unchecked: true });
    const backend = this.backend;
    const joined = Readable.from(
      (async function* () {
        for (const part of u.parts) yield* await backend.get(part);
      })(),
    ).pipe(new PassThrough());
    let stored;
    try {
      stored = await this.backend.put(key, joined);
    } catch (e) {
      await this.storage.discard(t.project, [key], true);
      throw e;
    }
    await this.storage.commitWrite(t, b, u.name, { key, version, size: stored.size, md5: stored.md5 }, { contentType: u.content_type, cacheControl: u.cache_control ?? undefined, metadata: u.user_metadata }, write);
    const done = await this.repo.deleteUpload(t.project, u.id);
    await this.dropParts(t, u.id, done?.parts ?? u.parts);
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
