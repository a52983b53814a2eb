import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Clock, ErrorCode, PlinthException } from '@plinth/common';
import { AuditActor, AuditService } from '@plinth/audit';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ControlTransactions } from '@plinth/database';
import type { TenantContext, TenantProject } from '@plinth/gateway';
import { PlansService, ProjectLimitsRepository } from '@plinth/quotas';
import { STORAGE_BACKEND, StorageBackend } from './backends/storage-backend';
import { allows, ObjectFacts, StorageAction, StorageCaller } from './bucket-rules';
import { RENDER_PARAMS, renderOptions, RenderOptions } from './render-options';
import { SmallObjectCache } from './object-http';
import { SignedUrls } from './signed-urls';
import { StorageException } from './storage.exception';
import { BucketRow, ListedRow, ListQuery, ObjectRow, StorageRepository } from './storage.repository';
import { byteLimit, readUpload } from './upload-body';

/** How an upload came: its method and whether it may replace an object. */
export interface UploadMode {
  upsert: boolean;
  /** A signed upload URL's token was checked: it stands in for the caller's rights. */
  signed?: boolean;
}

/** A write that passed {@link StorageService.admitWrite}: what its commit needs to know. */
export interface AdmittedWrite {
  limit: number;
  action: StorageAction;
  upsert: boolean;
  signed: boolean;
}

/** A bucket as Storage shows it. */
export interface BucketView {
  id: string;
  name: string;
  owner: string;
  public: boolean;
  type: 'STANDARD';
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
  created_at: string;
  updated_at: string;
}

export interface BucketInput {
  id?: string;
  name?: string;
  public?: boolean;
  file_size_limit?: number | string | null;
  allowed_mime_types?: string[] | null;
}

const SIGNED_UPLOAD_TTL_S = 7200;
const MAX_SIGN_EXPIRY_S = 365 * 86400;
const EMPTY_BATCH = 1000;
/** How long a key written by a request stays pending before the sweeper may take it (an upload in flight). */
export const PENDING_GRACE_MS = 3600_000;

export function bucketView(b: BucketRow): BucketView {
  return {
    id: b.id,
    name: b.name,
    owner: b.owner_id ?? '',
    public: b.public,
    type: 'STANDARD',
    file_size_limit: b.file_size_limit,
    allowed_mime_types: b.allowed_mime_types,
    created_at: new Date(b.created_at).toISOString(),
    updated_at: new Date(b.updated_at).toISOString(),
  };
}

/** Storage's per-object metadata block (list and remove answers). */
function fileMetadata(o: { size: number | null; mime_type: string | null; etag: string | null; cache_control: string | null; updated_at: Date | null }) {
  return {
    eTag: `"${o.etag}"`,
    size: o.size,
    mimetype: o.mime_type,
    cacheControl: o.cache_control,
    lastModified: o.updated_at ? new Date(o.updated_at).toISOString() : null,
    contentLength: o.size,
    httpStatusCode: 200,
  };
}

export function listedView(r: ListedRow) {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    name: r.name,
    id: r.id,
    updated_at: iso(r.updated_at),
    created_at: iso(r.created_at),
    last_accessed_at: iso(r.last_accessed_at),
    metadata: r.id === null ? null : fileMetadata(r),
    ...(r.id !== null && r.user_metadata ? { user_metadata: r.user_metadata } : {}),
  };
}

function objectView(o: ObjectRow) {
  return { ...listedView({ ...o }), bucket_id: o.bucket_id, owner: o.owner_id ?? '', owner_id: o.owner_id ?? '', version: o.version };
}

/** `1048576`, `"10MB"`, `"500 kb"` → bytes; null clears. */
export function sizeLimit(v: number | string | null | undefined): number | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw StorageException.invalid('file_size_limit must be a whole number of bytes');
    return v === 0 ? null : v;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(v);
  if (!m) throw StorageException.invalid('file_size_limit must be bytes or a size like "10MB"');
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * unit) || null;
}

/** Whether `type` is allowed by a bucket's list (`image/png`, `image/*`, `*` / `*\/*`); no list allows all. */
export function mimeAllowed(type: string, allowed: string[] | null): boolean {
  if (!allowed || allowed.length === 0) return true;
  const base = type.split(';')[0].trim().toLowerCase();
  return allowed.some((a) => {
    const p = a.trim().toLowerCase();
    if (p === '*' || p === '*/*') return true;
    if (p.endsWith('/*')) return base.startsWith(p.slice(0, -1));
    return base === p;
  });
}

function mimeList(v: unknown): string[] | null | undefined {
  if (v === undefined || v === null) return v;
  if (!Array.isArray(v) || v.length > 100 || v.some((x) => typeof x !== 'string' || !/^([\w.+-]+|\*)\/([\w.+-]+|\*)$/.test(x))) {
    throw StorageException.invalid('allowed_mime_types must be a list of types like "image/png" or "image/*"');
  }
  return v.length ? (v as string[]) : null;
}

/**
 * Buckets and objects of a project, as the Storage API exposes them. It owns access (secret and restricted keys pass;
 * anon and authenticated callers need a bucket rule), limits (bucket size limit and types, the plan's largest upload,
 * the stored-bytes quota) and the order of an upload: bytes to a fresh key, metadata committed, the replaced bytes
 * deleted — so metadata never points at missing or partial bytes, and a crash leaves only orphans the sweeper removes.
 */
@Injectable()
export class StorageService {
  private readonly logger = new Logger(StorageService.name);
  readonly signer: SignedUrls;
  /** Small objects' bytes served lately (see {@link SmallObjectCache}): downloads of them skip the backend. */
  readonly smallObjects = new SmallObjectCache();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(STORAGE_BACKEND) readonly backend: StorageBackend,
    private readonly repo: StorageRepository,
    private readonly plans: PlansService,
    private readonly projectLimits: ProjectLimitsRepository,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly control: ControlTransactions,
  ) {
    this.signer = new SignedUrls(config.secret);
  }

  /**
   * Writes a bucket change to the organization's audit log (`bucket.*`, target the bucket id, details with the
   * project's ref). The change itself is committed in the project's database before this, so the entry follows it:
   * a failure to write the entry is logged, never undoes the change.
   */
  async audited(project: TenantProject, actor: AuditActor, action: string, bucket: string, details: Record<string, unknown> = {}): Promise<void> {
    try {
      await this.control.run((m) => this.audit.record(m, actor, { orgId: project.orgId, action, targetType: 'bucket', targetId: bucket, details: { project: project.ref, ...details } }));
    } catch (e) {
      this.logger.error(`audit entry ${action} for bucket ${bucket} of ${project.ref} not written: ${(e as Error).message}`);
    }
  }

  // ── buckets ────────────────────────────────────────────────────────────────────────────────────────────────────

  async listBuckets(t: TenantContext): Promise<BucketView[]> {
    this.assertManager(t);
    const allowed = t.role === 'restricted' ? t.restrictions?.buckets : undefined;
    const rows = await this.repo.listBuckets(t.project);
    return rows.filter((b) => !allowed?.length || allowed.includes(b.id)).map(bucketView);
  }

  async getBucket(t: TenantContext, id: string): Promise<BucketView> {
    this.assertManager(t, id);
    return bucketView(await this.bucketOr404(t.project, id));
  }

  async createBucket(project: TenantProject, actor: AuditActor, input: BucketInput, ownerId: string | null): Promise<{ name: string }> {
    const id = input.id ?? input.name;
    if (typeof id !== 'string') throw StorageException.invalid('A bucket id is required');
    const ok = await this.repo.createBucket(project, {
      id,
      name: typeof input.name === 'string' && input.name.length <= 100 ? input.name : id,
      public: input.public === true,
      file_size_limit: sizeLimit(input.file_size_limit) ?? null,
      allowed_mime_types: mimeList(input.allowed_mime_types) ?? null,
      owner_id: ownerId,
    });
    if (!ok) throw StorageException.duplicate('The resource already exists');
    await this.audited(project, actor, 'bucket.create', id, { public: input.public === true, file_size_limit: sizeLimit(input.file_size_limit) ?? null, allowed_mime_types: mimeList(input.allowed_mime_types) ?? null });
    return { name: id };
  }

  async updateBucket(project: TenantProject, actor: AuditActor, id: string, input: BucketInput): Promise<void> {
    const patch = {
      public: typeof input.public === 'boolean' ? input.public : undefined,
      file_size_limit: sizeLimit(input.file_size_limit),
      allowed_mime_types: mimeList(input.allowed_mime_types),
    };
    const ok = await this.repo.updateBucket(project, id, patch);
    if (!ok) throw StorageException.bucketNotFound();
    await this.audited(project, actor, 'bucket.update', id, Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
  }

  async deleteBucket(project: TenantProject, actor: AuditActor, id: string): Promise<void> {
    const r = await this.repo.deleteBucket(project, id);
    if (r === 'missing') throw StorageException.bucketNotFound();
    if (r === 'not_empty') throw StorageException.bucketNotEmpty();
    await this.audited(project, actor, 'bucket.delete', id);
  }

  /** Deletes every object of the bucket, in batches; bytes after each batch's metadata is gone. */
  async emptyBucket(project: TenantProject, actor: AuditActor, id: string): Promise<void> {
    await this.bucketOr404(project, id);
    let objects = 0;
    for (;;) {
      const keys = await this.repo.emptyBucket(project, id, EMPTY_BATCH, this.clock.now());
      await this.discard(project, keys);
      objects += keys.length;
      if (keys.length < EMPTY_BATCH) break;
    }
    await this.audited(project, actor, 'bucket.empty', id, { objects });
  }

  /** Bucket management on the tenant API: secret keys, and restricted keys within their buckets. */
  assertManager(t: TenantContext, bucket?: string): void {
    if (t.role !== 'service' && t.role !== 'restricted') throw StorageException.denied('Managing buckets requires the secret key');
    if (bucket !== undefined) this.assertKeyBucket(t, bucket);
  }

  // ── objects ────────────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Streams an upload into `bucket/name` and commits it. Refusals that need no body (rules, declared size, type,
   * quota, an existing object without upsert) come before a byte is read; the size limit is enforced as bytes
   * arrive. Bytes of a refused or failed upload are deleted; nothing is committed.
   */
  async upload(t: TenantContext, bucket: string, name: string, req: IncomingMessage, mode: UploadMode): Promise<{ Id: string; Key: string }> {
    this.assertKeyBucket(t, bucket);
    const b = await this.bucketOr404(t.project, bucket);
    const limit = await this.uploadLimit(t.project, b);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit + 64 * 1024 && !/^multipart\//i.test(req.headers['content-type'] ?? '')) {
      throw StorageException.tooLarge(limit);
    }
    const body = await readUpload(req);
    const write = await this.admitWrite(t, b, name, { contentType: body.contentType, size: body.declaredSize, upsert: mode.upsert, signed: mode.signed === true });

    const version = randomUUID();
    const key = `${t.project.ref}/${bucket}/${version}`;
    // The bytes are reserved against the stored-bytes quota before any is written: the declared size, or (unknown)
    // at most what the request can carry within the limit — and the write is held to what was reserved.
    const whole = Number(req.headers['content-length']);
    const expected = body.declaredSize ?? (Number.isSafeInteger(whole) ? Math.min(whole, write.limit) : write.limit);
    const reserved = await this.reserve(t.project, key, expected, body.declaredSize === undefined);
    const cap = Math.min(write.limit, reserved);
    // The bytes pass a counter that fails the write past the limit; the request going away fails it too.
    const limited = byteLimit(cap, () => (reserved < expected ? this.quotaExceeded(null) : StorageException.tooLarge(write.limit)));
    body.stream.on('error', (e) => limited.destroy(e));
    // Its error reaches the backend's pipeline; this listener only keeps one raised before that is attached from
    // being an unhandled 'error' event.
    limited.on('error', () => undefined);
    req.once('close', () => {
      if (!req.complete) limited.destroy(new Error('upload aborted'));
    });
    body.stream.pipe(limited);
    let stored;
    try {
      stored = await this.backend.put(key, limited);
    } catch (e) {
      // The rest of the body is not read: the edge answers and closes the connection.
      body.stream.unpipe(limited);
      await this.discard(t.project, [key], true);
      throw e instanceof StorageException || e instanceof PlinthException ? e : this.uploadFailed(e);
    }
    return this.commitWrite(t, b, name, { key, version, size: stored.size, md5: stored.md5 }, { contentType: body.contentType, cacheControl: body.cacheControl, metadata: body.metadata }, write);
  }

  /**
   * Records `key` as pending before its bytes are written, holding `bytes` against the stored-bytes quota (402 when
   * they don't fit beside what is stored and reserved; `upTo`: the size is unknown, hold what is left, at most
   * `bytes`). The bytes held.
   */
  async reserve(project: TenantProject, key: string, bytes: number, upTo = false, opts: { prefix?: boolean; sweepAfter?: Date; unchecked?: boolean } = {}): Promise<number> {
    const cap = opts.unchecked ? null : await this.quotaCap(project);
    const sweepAfter = opts.sweepAfter ?? new Date(this.clock.nowMs() + PENDING_GRACE_MS);
    const held = await this.repo.reserve(project, { key, prefix: opts.prefix, reserved: bytes, sweepAfter }, cap, this.clock.now(), upTo);
    if (held === null) throw this.quotaExceeded(cap);
    return held;
  }

  /**
   * Everything a write can be refused for before its bytes arrive: the size (when known) against the bucket's and
   * the plan's limit, the type, an existing object without upsert, and the rules
   * (`update` on the object replaced, `create` or `update` on the new one; a signed upload URL stands in for them).
   */
  async admitWrite(t: TenantContext, b: BucketRow, name: string, w: { contentType: string; size: number | undefined; upsert: boolean; signed: boolean }): Promise<AdmittedWrite> {
    this.assertKeyBucket(t, b.id);
    const limit = await this.uploadLimit(t.project, b);
    if (w.size !== undefined && w.size > limit) throw StorageException.tooLarge(limit);
    if (!mimeAllowed(w.contentType, b.allowed_mime_types)) throw StorageException.mimeType(w.contentType);
    // Needed to refuse a taken name, and to judge rules on the object replaced; a key that bypasses rules, upserting,
    // needs neither (the commit locks and replaces whatever is there).
    const judged = !w.signed && this.caller(t) !== null;
    const existing = judged || !w.upsert ? await this.repo.object(t.project, b.id, name) : null;
    if (existing && !w.upsert) throw StorageException.duplicate();
    const action: StorageAction = existing ? 'update' : 'create';
    if (!w.signed) {
      if (existing) this.authorize(t, b, 'update', this.factsOf(existing));
      this.authorize(t, b, action, { owner_id: t.user?.id ?? null, path: name, mime_type: w.contentType, size: w.size ?? 0 });
    }
    return { limit, action, upsert: w.upsert, signed: w.signed };
  }

  /**
   * Commits bytes already stored under `bytes.key` (recorded by {@link reserve}) as `b/name` (the rules judged again
   * with the real size), then deletes the bytes it replaced; on any refusal or failure the new bytes are deleted and
   * nothing is committed.
   */
  async commitWrite(
    t: TenantContext,
    b: BucketRow,
    name: string,
    bytes: { key: string; version: string; size: number; md5: string },
    meta: { contentType: string; cacheControl: string | undefined; metadata: Record<string, unknown> | null },
    write: AdmittedWrite,
  ): Promise<{ Id: string; Key: string }> {
    const ownerId = t.user?.id ?? null;
    try {
      if (!write.signed) this.authorize(t, b, write.action, { owner_id: ownerId, path: name, mime_type: meta.contentType, size: bytes.size });
      const row = { id: randomUUID(), bucket_id: b.id, name, owner_id: ownerId, key: bytes.key, version: bytes.version, size: bytes.size, mime_type: meta.contentType, etag: bytes.md5, cache_control: meta.cacheControl ?? 'no-cache', user_metadata: meta.metadata };
      for (let attempt = 0; ; attempt++) {
        const put = await this.repo.commitObject(t.project, row, write.upsert, this.clock.now());
        if (!put.claimed) throw StorageException.invalid('The upload took too long to commit; try again');
        if (put.row) {
          if (put.replaced) await this.discard(t.project, [put.replaced]);
          return { Id: put.row.id, Key: `${b.id}/${name}` };
        }
        // Refused without upsert; or a concurrent upload of the same name won the race: claim the key again and retry.
        if (!write.upsert || attempt >= 2) throw StorageException.duplicate();
        await this.repo.reserve(t.project, { key: bytes.key, reserved: 0, sweepAfter: new Date(this.clock.nowMs() + PENDING_GRACE_MS) }, null, this.clock.now());
      }
    } catch (e) {
      await this.discard(t.project, [bytes.key], true);
      throw e;
    }
  }

  /** A bucket of the project, or 404. */
  bucket(project: TenantProject, id: string): Promise<BucketRow> {
    return this.bucketOr404(project, id);
  }

  /** The object a download may serve (read rule for anon and authenticated callers), or 404. */
  async readable(t: TenantContext, bucket: string, name: string): Promise<ObjectRow> {
    this.assertKeyBucket(t, bucket);
    const { bucket: b, object: o } = await this.repo.bucketAndObject(t.project, bucket, name);
    if (!b) throw StorageException.bucketNotFound();
    if (!o) throw StorageException.objectNotFound();
    // A caller who may not read it learns nothing more than that it isn't there for them.
    if (!this.permits(t, b, 'read', this.factsOf(o))) throw StorageException.objectNotFound();
    return o;
  }

  /** An object of a public bucket, for anyone. */
  async publicObject(project: TenantProject, bucket: string, name: string): Promise<ObjectRow> {
    const { bucket: b, object: o } = await this.repo.bucketAndObject(project, bucket, name);
    if (!b || !b.public || !o) throw StorageException.objectNotFound();
    return o;
  }

  /**
   * An object a signed URL's token names (checked against the URL's project, bucket and path). A token signed with
   * a transformation serves the original here too, as Supabase Storage's does.
   */
  async signedObject(project: TenantProject, bucket: string, name: string, token: unknown): Promise<ObjectRow> {
    return (await this.signedRender(project, bucket, name, token, null)).object;
  }

  /**
   * What `/render/image/sign` serves: the object a token names and the transformation it was signed for (none: the
   * image as it is, bounded). `query`: the URL's transformation parameters, which may only repeat the token's — any
   * other width, height, resize, quality or format is refused (400), so a signed thumbnail can't be re-rendered.
   */
  async signedRender(project: TenantProject, bucket: string, name: string, token: unknown, query: URLSearchParams | null): Promise<{ object: ObjectRow; options: RenderOptions }> {
    const claims = this.signer.verify(project.id, token, { r: project.ref, b: bucket, p: name, kind: 'download' }, this.clock.nowMs());
    const options = claims.tf ?? renderOptions(new URLSearchParams());
    if (query && RENDER_PARAMS.some((k) => query.has(k))) {
      const asked = new URLSearchParams();
      for (const k of RENDER_PARAMS) if (query.has(k)) asked.set(k, query.get(k)!);
      if (JSON.stringify(renderOptions(asked)) !== JSON.stringify(options)) throw StorageException.signature('The transformation does not match the signature');
    }
    const o = await this.repo.object(project, bucket, name);
    if (!o) throw StorageException.objectNotFound();
    return { object: o, options };
  }

  async info(t: TenantContext, bucket: string, name: string) {
    const o = await this.readable(t, bucket, name);
    return {
      id: o.id,
      name: o.name,
      version: o.version,
      bucket_id: o.bucket_id,
      size: o.size,
      content_type: o.mime_type,
      cache_control: o.cache_control,
      etag: `"${o.etag}"`,
      metadata: o.user_metadata,
      last_modified: new Date(o.updated_at).toISOString(),
      created_at: new Date(o.created_at).toISOString(),
    };
  }

  async list(t: TenantContext, bucket: string, q: Omit<ListQuery, 'rules'>) {
    this.assertKeyBucket(t, bucket);
    const b = await this.bucketOr404(t.project, bucket);
    const caller = this.caller(t);
    const rows = await this.repo.list(t.project, bucket, { ...q, rules: caller ? { rules: b.rules, caller, action: 'read' } : null });
    return rows.map(listedView);
  }

  /** Deletes the named objects the caller may delete; the deleted objects (others are left, as Storage does). */
  async remove(t: TenantContext, bucket: string, names: string[]) {
    this.assertKeyBucket(t, bucket);
    const b = await this.bucketOr404(t.project, bucket);
    const caller = this.caller(t);
    const rows = await this.repo.deleteObjects(t.project, bucket, names, caller ? { rules: b.rules, caller, action: 'delete' } : null, this.clock.now());
    await this.discard(t.project, rows.map((r) => r.key));
    return rows.map(objectView);
  }

  /** Renames an object (metadata only): `update` on the source, `create` on the destination. */
  async move(t: TenantContext, from: { bucket: string; name: string }, to: { bucket: string; name: string }): Promise<void> {
    this.assertKeyBucket(t, from.bucket);
    this.assertKeyBucket(t, to.bucket);
    const src = await this.bucketOr404(t.project, from.bucket);
    const dst = from.bucket === to.bucket ? src : await this.bucketOr404(t.project, to.bucket);
    await this.repo.transaction(t.project, async (tx, tables) => {
      const o = await this.repo.object(t.project, from.bucket, from.name, tx, true);
      if (!o || !this.permits(t, src, 'read', this.factsOf(o))) throw StorageException.objectNotFound();
      this.authorize(t, src, 'update', this.factsOf(o));
      this.authorize(t, dst, 'create', { ...this.factsOf(o), path: to.name, owner_id: t.user?.id ?? o.owner_id });
      this.assertFits(dst, o);
      if (!(await this.repo.rename(tx, tables, o.id, to.bucket, to.name, t.user?.id ?? null))) throw StorageException.duplicate();
    });
  }

  /** Copies an object's bytes to a new key and commits the copy: `read` on the source, `create` on the destination. */
  async copy(t: TenantContext, from: { bucket: string; name: string }, to: { bucket: string; name: string }, upsert: boolean): Promise<{ Id: string; Key: string }> {
    this.assertKeyBucket(t, from.bucket);
    this.assertKeyBucket(t, to.bucket);
    const src = await this.bucketOr404(t.project, from.bucket);
    const dst = from.bucket === to.bucket ? src : await this.bucketOr404(t.project, to.bucket);
    const o = await this.repo.object(t.project, from.bucket, from.name);
    if (!o || !this.permits(t, src, 'read', this.factsOf(o))) throw StorageException.objectNotFound();
    const ownerId = t.user?.id ?? null;
    this.authorize(t, dst, 'create', { ...this.factsOf(o), path: to.name, owner_id: ownerId });
    this.assertFits(dst, o);
    const limit = await this.uploadLimit(t.project, dst);
    if (o.size > limit) throw StorageException.tooLarge(limit);
    const version = randomUUID();
    const key = `${t.project.ref}/${to.bucket}/${version}`;
    await this.reserve(t.project, key, o.size);
    let replaced: string | undefined;
    try {
      await this.backend.copy(o.key, key);
      const row = await this.repo.transaction(t.project, async (tx, tables) => {
        const current = await this.repo.object(t.project, to.bucket, to.name, tx, true);
        if (current && !upsert) throw StorageException.duplicate();
        if (current) this.authorize(t, dst, 'update', this.factsOf(current));
        if (!(await this.repo.claimPending(tx, tables, key))) throw StorageException.invalid('The copy took too long to commit; try again');
        replaced = current?.key;
        if (replaced) await this.repo.markPendingIn(tx, tables, [replaced], this.clock.now());
        return this.repo.putObject(tx, tables, { ...o, id: current?.id ?? randomUUID(), bucket_id: to.bucket, name: to.name, owner_id: ownerId ?? o.owner_id, key, version });
      });
      if (replaced) await this.discard(t.project, [replaced]);
      return { Id: row.id, Key: `${to.bucket}/${to.name}` };
    } catch (e) {
      await this.discard(t.project, [key], true);
      throw e;
    }
  }

  /**
   * A signed download URL's path and token (read access needed to sign). With a `transform`, a
   * `/render/image/sign/…` URL whose token carries the transformation (as Supabase Storage answers).
   */
  async sign(t: TenantContext, bucket: string, name: string, expiresIn: number, transform?: RenderOptions): Promise<{ signedURL: string }> {
    await this.readable(t, bucket, name);
    return { signedURL: this.signedPath(t.project, bucket, name, expiresIn, transform) };
  }

  /** Storage's batch signing: an entry per path, with an error for those that can't be signed. */
  async signMany(t: TenantContext, bucket: string, names: string[], expiresIn: number) {
    this.assertKeyBucket(t, bucket);
    const out = [];
    for (const name of names) {
      try {
        await this.readable(t, bucket, name);
        out.push({ error: null, path: name, signedURL: this.signedPath(t.project, bucket, name, expiresIn) });
      } catch (e) {
        if (!(e instanceof StorageException)) throw e;
        out.push({ error: 'Either the object does not exist or you do not have access to it', path: name, signedURL: null });
      }
    }
    return out;
  }

  /** A single-use upload URL valid for two hours (`create` access needed, or `update` with upsert over an object). */
  async signUpload(t: TenantContext, bucket: string, name: string, upsert: boolean): Promise<{ url: string; token: string }> {
    this.assertKeyBucket(t, bucket);
    const b = await this.bucketOr404(t.project, bucket);
    const existing = await this.repo.object(t.project, bucket, name);
    if (existing && !upsert) throw StorageException.duplicate();
    const ownerId = t.user?.id ?? null;
    if (existing) this.authorize(t, b, 'update', this.factsOf(existing));
    else this.authorize(t, b, 'create', { owner_id: ownerId, path: name, mime_type: 'application/octet-stream', size: 0 });
    const exp = Math.floor(this.clock.nowMs() / 1000) + SIGNED_UPLOAD_TTL_S;
    const token = this.signer.sign(t.project.id, { r: t.project.ref, b: bucket, p: name, exp, kind: 'upload', upsert });
    return { url: `/object/upload/sign/${bucket}/${name}?token=${token}`, token };
  }

  /** Checks and spends a signed upload URL's token, then uploads as its signer allowed. */
  async uploadSigned(t: TenantContext, bucket: string, name: string, token: unknown, req: IncomingMessage): Promise<{ Id: string; Key: string }> {
    const claims = this.signer.verify(t.project.id, token, { r: t.project.ref, b: bucket, p: name, kind: 'upload' }, this.clock.nowMs());
    const spent = await this.repo.transaction(t.project, (tx, tables) => this.repo.spendUploadToken(tx, tables, claims.jti ?? '', new Date(claims.exp * 1000)));
    if (!spent) throw StorageException.signature('This signed upload URL has already been used');
    return this.upload({ ...t, role: 'service', restrictions: null }, bucket, name, req, { upsert: claims.upsert === true, signed: true });
  }

  // ── limits, access ────────────────────────────────────────────────────────────────────────────────────────────

  /** The largest object the bucket takes: its own limit, within the plan's `max_upload_bytes` (or the default). */
  async uploadLimit(project: TenantProject, b: BucketRow): Promise<number> {
    const planMax = await this.planUploadMax(project);
    return b.file_size_limit ? Math.min(b.file_size_limit, planMax) : planMax;
  }

  /** The plan's `max_upload_bytes` (or the configured default). */
  async planUploadMax(project: TenantProject): Promise<number> {
    const plan = this.plans.cachedForOrg(project.orgId) ?? (await this.plans.forOrg(project.orgId));
    return plan.limits.max_upload_bytes ?? this.config.storage.maxUploadBytes;
  }

  /** The stored-bytes (`file_bytes`) cap: a hard-capped plan's allowance or the project's own cap, the lower; null: none. */
  async quotaCap(project: TenantProject): Promise<number | null> {
    const plan = this.plans.cachedForOrg(project.orgId) ?? (await this.plans.forOrg(project.orgId));
    const own = (await this.projectLimits.get(project.id)).meter_caps.file_bytes;
    const caps = [plan.hard_caps ? plan.included.file_bytes : undefined, own].filter((c): c is number => typeof c === 'number');
    return caps.length ? Math.min(...caps) : null;
  }

  private quotaExceeded(cap: number | null): PlinthException {
    const what = cap === null ? 'This upload would pass' : `This project has used`;
    return new PlinthException(ErrorCode.QuotaExceeded, `${what} its file_bytes allowance${cap === null ? '' : ` (${cap} bytes stored or reserved)`}`, undefined, undefined, { meter: 'file_bytes', ...(cap === null ? {} : { limit: cap }) });
  }

  private assertFits(b: BucketRow, o: ObjectRow): void {
    if (b.file_size_limit && o.size > b.file_size_limit) throw StorageException.tooLarge(b.file_size_limit);
    if (!mimeAllowed(o.mime_type, b.allowed_mime_types)) throw StorageException.mimeType(o.mime_type);
  }

  /** A restricted key with a bucket list reaches only those buckets (routes whose bucket the edge can't see). */
  private assertKeyBucket(t: TenantContext, bucket: string): void {
    const buckets = t.role === 'restricted' ? t.restrictions?.buckets : undefined;
    if (buckets?.length && !buckets.includes(bucket)) throw PlinthException.forbidden(`This key may not use bucket "${bucket.slice(0, 63)}"`);
  }

  /** The rules' caller, or null for keys that bypass rules (secret, restricted). */
  private caller(t: TenantContext): StorageCaller | null {
    if (t.role === 'service' || t.role === 'restricted') return null;
    return { role: t.role, uid: t.user?.id ?? null };
  }

  private permits(t: TenantContext, b: BucketRow, action: StorageAction, facts: ObjectFacts): boolean {
    const caller = this.caller(t);
    return caller === null || allows(b.rules, caller, action, facts);
  }

  private authorize(t: TenantContext, b: BucketRow, action: StorageAction, facts: ObjectFacts): void {
    if (!this.permits(t, b, action, facts)) throw StorageException.denied();
  }

  private factsOf(o: ObjectRow): ObjectFacts {
    return { owner_id: o.owner_id, path: o.name, mime_type: o.mime_type, size: o.size };
  }

  private async bucketOr404(project: TenantProject, id: string): Promise<BucketRow> {
    const b = await this.repo.bucket(project, id);
    if (!b) throw StorageException.bucketNotFound();
    return b;
  }

  private signedPath(project: TenantProject, bucket: string, name: string, expiresIn: number, transform?: RenderOptions): string {
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_SIGN_EXPIRY_S) throw StorageException.invalid(`expiresIn must be 1-${MAX_SIGN_EXPIRY_S} seconds`);
    const exp = Math.floor(this.clock.nowMs() / 1000) + expiresIn;
    const token = this.signer.sign(project.id, { r: project.ref, b: bucket, p: name, exp, kind: 'download', ...(transform ? { tf: transform } : {}) });
    return `${transform ? '/render/image/sign' : '/object/sign'}/${bucket}/${name}?token=${token}`;
  }

  /**
   * Deletes bytes no metadata points at any more, then forgets their pending rows. `record`: the keys may have no
   * pending row (a refused commit claimed it): recorded first, so a crash in between still leaves them to the
   * sweeper. A failure to delete leaves them to the sweeper too.
   */
  async discard(project: TenantProject, keys: string[], record = false): Promise<void> {
    if (!keys.length) return;
    try {
      if (record) await this.repo.markPending(project, keys, this.clock.now());
      await this.backend.delete(keys);
      await this.repo.forgetPending(project, keys);
    } catch (e) {
      this.logger.warn(`could not delete ${keys.length} object(s) now, the sweeper will: ${(e as Error).message}`);
    }
  }

  private uploadFailed(e: unknown): unknown {
    const code = (e as { code?: string }).code;
    // The client went away or sent a broken body: nothing was stored; answer 400 if anyone is still listening.
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || (e as Error).message === 'upload aborted') return StorageException.invalid('The upload was interrupted');
    return e;
  }
}
