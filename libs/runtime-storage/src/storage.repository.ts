import { Injectable, OnModuleInit } from '@nestjs/common';
import type { PoolClient, QueryResultRow } from 'pg';
import { CacheInvalidation, invalidationNotice, TenantDatabase, TenantTarget } from '@plinth/database';
import type { TenantProject } from '@plinth/gateway';
import { rulesSql, StorageAction, StorageCaller, StoredBucketRule } from './bucket-rules';
import { storageTables, StorageTables } from './storage-schema';

export interface BucketRow {
  id: string;
  name: string;
  public: boolean;
  file_size_limit: number | null;
  allowed_mime_types: string[] | null;
  owner_id: string | null;
  rules: StoredBucketRule[];
  created_at: Date;
  updated_at: Date;
}

export interface ObjectRow {
  id: string;
  bucket_id: string;
  name: string;
  owner_id: string | null;
  key: string;
  version: string;
  size: number;
  mime_type: string;
  etag: string;
  cache_control: string;
  user_metadata: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
  last_accessed_at: Date;
}

/** What a listing returns per name: a folder (no id) or an object. */
export interface ListedRow {
  name: string;
  id: string | null;
  size: number | null;
  mime_type: string | null;
  etag: string | null;
  cache_control: string | null;
  user_metadata: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  last_accessed_at: Date | null;
}

export interface ListQuery {
  prefix: string;
  search: string;
  limit: number;
  offset: number;
  sortColumn: 'name' | 'created_at' | 'updated_at' | 'last_accessed_at';
  ascending: boolean;
  /** Rules the listed objects must satisfy (null: every object). */
  rules: { rules: StoredBucketRule[]; caller: StorageCaller; action: StorageAction } | null;
}

/** A resumable (TUS) upload in progress. */
export interface UploadRow {
  id: string;
  bucket_id: string;
  name: string;
  owner_id: string | null;
  /** Who created it (key id and end user): only they may continue it. */
  creator: string;
  upsert: boolean;
  /** Null while deferred (`Upload-Defer-Length`). */
  length: number | null;
  offset: number;
  parts: string[];
  content_type: string;
  cache_control: string | null;
  user_metadata: Record<string, unknown> | null;
  expires_at: Date;
}

export type StorageTx = PoolClient;
type Scope = StorageTables & { target: TenantTarget };

const OBJECT_COLUMNS = `id, bucket_id, name, owner_id, key, version, size::float8 AS size, mime_type, etag, cache_control, user_metadata, created_at, updated_at, last_accessed_at`;
const BUCKET_COLUMNS = `id, name, public, file_size_limit::float8 AS file_size_limit, allowed_mime_types, owner_id, rules, created_at, updated_at`;

/** Published (key: the project's ref) when one of a project's buckets is created, changed or deleted. */
export const STORAGE_BUCKETS_TOPIC = 'storage-buckets';
/** How long a cached bucket row is trusted should a notification be missed (the listener reconnecting). */
const BUCKET_TTL_MS = 5_000;
const MAX_CACHED_PROJECTS = 20_000;

/** `%` and `_` taken literally in a LIKE pattern (with the default `\` escape). */
const likeLiteral = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * A project's buckets and objects' metadata, in its own schema, with schema-qualified, parameterised SQL on the tenant
 * pool as the project's storage role (`t_<ref>_storage`, granted these tables only): a statement here can't reach the
 * project's declared tables, its auth tables, another project or control data; and the data role, which serves
 * PostgREST, has no grant on these tables. Table names come from the validated ref only.
 */
@Injectable()
export class StorageRepository implements OnModuleInit {
  /**
   * Bucket rows (settings and rules) per project ref, read on every upload, listing and download: kept for
   * {@link BUCKET_TTL_MS} and dropped on every instance when any instance changes one of the project's buckets (the
   * change's statement publishes in its own transaction, so the notice goes out only if it commits). Only buckets
   * that exist are kept: a bucket just created elsewhere is never "missing" here.
   */
  private readonly buckets = new Map<string, { rows: Map<string, BucketRow>; until: number }>();
  /** Bumped per ref at each invalidation: a read that started before one doesn't fill the cache with what it read. */
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly tenants: TenantDatabase,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(STORAGE_BUCKETS_TOPIC, (ref) => this.forget(ref));
  }

  private forget(ref: string): void {
    this.buckets.delete(ref);
    this.generations.set(ref, (this.generations.get(ref) ?? 0) + 1);
  }

  /** The cached row of bucket `id`, if fresh. */
  private cachedBucket(ref: string, id: string): BucketRow | undefined {
    const entry = this.buckets.get(ref);
    if (entry === undefined) return undefined;
    if (entry.until <= Date.now()) {
      this.buckets.delete(ref);
      return undefined;
    }
    return entry.rows.get(id);
  }

  private remember(ref: string, generation: number, row: BucketRow): void {
    if ((this.generations.get(ref) ?? 0) !== generation) return;
    let entry = this.buckets.get(ref);
    if (entry === undefined) {
      if (this.buckets.size >= MAX_CACHED_PROJECTS) this.buckets.clear();
      entry = { rows: new Map(), until: Date.now() + BUCKET_TTL_MS };
      this.buckets.set(ref, entry);
    }
    entry.rows.set(row.id, row);
  }

  /** The parameters of `pg_notify` for a change to one of `p`'s buckets (dropped here at once as well). */
  private bucketsChanged(p: Pick<TenantProject, 'ref'>): [string, string] {
    this.forget(p.ref);
    return invalidationNotice(STORAGE_BUCKETS_TOPIC, p.ref);
  }

  private scope(p: Pick<TenantProject, 'ref' | 'cluster' | 'schema' | 'dataRole'>): Scope {
    const target: TenantTarget = { ref: p.ref, cluster: p.cluster, schema: `t_${p.ref}`, dataRole: p.dataRole };
    return { ...storageTables(target.schema), target };
  }

  /** Runs `fn` in one transaction as the project's storage role. */
  transaction<T>(p: TenantProject, fn: (tx: StorageTx, t: StorageTables) => Promise<T>): Promise<T> {
    const s = this.scope(p);
    return this.tenants.asRole(s.target, 'storage', (tx) => fn(tx, s));
  }

  private async one<R extends QueryResultRow>(p: TenantProject, text: (t: StorageTables) => string, values: unknown[]): Promise<R[]> {
    const s = this.scope(p);
    return this.tenants.run<R, R[]>(s.target, [{ text: text(s), values }], (r) => r.rows, { as: 'storage' });
  }

  listBuckets(p: TenantProject): Promise<BucketRow[]> {
    return this.one<BucketRow>(p, (t) => `SELECT ${BUCKET_COLUMNS} FROM ${t.buckets} ORDER BY id`, []);
  }

  async bucket(p: TenantProject, id: string, tx?: StorageTx): Promise<BucketRow | null> {
    if (tx) {
      const t = this.scope(p);
      return (await tx.query<BucketRow>(`SELECT ${BUCKET_COLUMNS} FROM ${t.buckets} WHERE id = $1`, [id])).rows[0] ?? null;
    }
    const hit = this.cachedBucket(p.ref, id);
    if (hit) return hit;
    const generation = this.generations.get(p.ref) ?? 0;
    const row = (await this.one<BucketRow>(p, (t) => `SELECT ${BUCKET_COLUMNS} FROM ${t.buckets} WHERE id = $1`, [id]))[0] ?? null;
    if (row) this.remember(p.ref, generation, row);
    return row;
  }

  /** Inserts the bucket; false when the id is taken. */
  async createBucket(p: TenantProject, b: { id: string; name: string; public: boolean; file_size_limit: number | null; allowed_mime_types: string[] | null; owner_id: string | null }): Promise<boolean> {
    const rows = await this.one(p, (t) => `INSERT INTO ${t.buckets} (id, name, public, file_size_limit, allowed_mime_types, owner_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id, pg_notify($7, $8)`, [
      b.id, b.name, b.public, b.file_size_limit, b.allowed_mime_types, b.owner_id, ...this.bucketsChanged(p),
    ]);
    return rows.length === 1;
  }

  /** Changes the given fields; false when there is no such bucket. */
  async updateBucket(p: TenantProject, id: string, patch: { public?: boolean; file_size_limit?: number | null; allowed_mime_types?: string[] | null; rules?: StoredBucketRule[] }): Promise<boolean> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      values.push(k === 'rules' ? JSON.stringify(v) : v);
      sets.push(`${k} = $${values.length}`);
    }
    sets.push('updated_at = now()');
    values.push(...this.bucketsChanged(p));
    const n = values.length;
    const rows = await this.one(p, (t) => `UPDATE ${t.buckets} SET ${sets.join(', ')} WHERE id = $1 RETURNING id, pg_notify($${n - 1}, $${n})`, values);
    return rows.length === 1;
  }

  /** Deletes an empty bucket: 'deleted', 'missing', or 'not_empty' (nothing changed). */
  async deleteBucket(p: TenantProject, id: string): Promise<'deleted' | 'missing' | 'not_empty'> {
    return this.transaction(p, async (tx, t) => {
      const b = await tx.query(`SELECT id FROM ${t.buckets} WHERE id = $1 FOR UPDATE`, [id]);
      if (!b.rowCount) return 'missing';
      const any = await tx.query(`SELECT 1 FROM ${t.objects} WHERE bucket_id = $1 LIMIT 1`, [id]);
      if (any.rowCount) return 'not_empty';
      await tx.query(`DELETE FROM ${t.buckets} WHERE id = $1 RETURNING pg_notify($2, $3)`, [id, ...this.bucketsChanged(p)]);
      return 'deleted';
    });
  }

  /** Deletes up to `limit` objects of a bucket; their byte keys (to delete after the commit; recorded as pending). */
  async emptyBucket(p: TenantProject, id: string, limit: number, now: Date): Promise<string[]> {
    const rows = await this.one<{ key: string }>(
      p,
      (t) => `WITH d AS (DELETE FROM ${t.objects} WHERE id IN (SELECT id FROM ${t.objects} WHERE bucket_id = $1 LIMIT $2) RETURNING key),
              g AS (INSERT INTO ${t.pending} (key, sweep_after) SELECT key, $3 FROM d ON CONFLICT (key) DO UPDATE SET sweep_after = EXCLUDED.sweep_after, reserved = 0)
              SELECT key FROM d`,
      [id, limit, now],
    );
    return rows.map((r) => r.key);
  }

  /** The bucket and its object `name` in one statement (the download path: one round trip). */
  async bucketAndObject(p: TenantProject, bucket: string, name: string): Promise<{ bucket: BucketRow | null; object: ObjectRow | null }> {
    const hit = this.cachedBucket(p.ref, bucket);
    if (hit) return { bucket: hit, object: await this.object(p, bucket, name) };
    const generation = this.generations.get(p.ref) ?? 0;
    const rows = await this.one<{ b: BucketRow; o: ObjectRow | null }>(
      p,
      (t) => `SELECT (SELECT row_to_json(x) FROM (SELECT ${BUCKET_COLUMNS} FROM ${t.buckets} WHERE id = $1) x) AS b,
                     (SELECT row_to_json(y) FROM (SELECT ${OBJECT_COLUMNS} FROM ${t.objects} WHERE bucket_id = $1 AND name = $2) y) AS o`,
      [bucket, name],
    );
    const { b, o } = rows[0];
    if (b) this.remember(p.ref, generation, b);
    // JSON carries dates as strings; the callers format them with new Date(…), which takes either.
    return { bucket: b, object: b ? o : null };
  }

  async object(p: TenantProject, bucket: string, name: string, tx?: StorageTx, lock = false): Promise<ObjectRow | null> {
    const t = this.scope(p);
    const text = `SELECT ${OBJECT_COLUMNS} FROM ${t.objects} WHERE bucket_id = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`;
    if (tx) return (await tx.query<ObjectRow>(text, [bucket, name])).rows[0] ?? null;
    return (await this.one<ObjectRow>(p, () => text, [bucket, name]))[0] ?? null;
  }

  /** Inserts or replaces the object's row (the commit of an upload); the row and the key it replaced, if any. */
  async putObject(tx: StorageTx, t: StorageTables, o: Omit<ObjectRow, 'created_at' | 'updated_at' | 'last_accessed_at'>): Promise<ObjectRow> {
    const { rows } = await tx.query<ObjectRow>(
      `INSERT INTO ${t.objects} (id, bucket_id, name, owner_id, key, version, size, mime_type, etag, cache_control, user_metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (bucket_id, name) DO UPDATE SET owner_id = EXCLUDED.owner_id, key = EXCLUDED.key, version = EXCLUDED.version,
         size = EXCLUDED.size, mime_type = EXCLUDED.mime_type, etag = EXCLUDED.etag, cache_control = EXCLUDED.cache_control,
         user_metadata = EXCLUDED.user_metadata, updated_at = now(), last_accessed_at = now()
       RETURNING ${OBJECT_COLUMNS}`,
      [o.id, o.bucket_id, o.name, o.owner_id, o.key, o.version, o.size, o.mime_type, o.etag, o.cache_control, o.user_metadata === null ? null : JSON.stringify(o.user_metadata)],
    );
    return rows[0];
  }

  /**
   * An upload's commit in one statement (one round trip): claims the new key's pending row (see {@link reserve}; a
   * key the sweeper took can't be committed), locks the object it replaces, if any, and inserts or replaces the row
   * — keeping the replaced row's id, and its owner when `o.owner_id` is null — and records the replaced row's key as
   * pending deletion. `claimed` false: the key's pending row was gone (nothing written). `row` null with `claimed`:
   * an object is there and `upsert` is false, or (upsert) a concurrent upload inserted the name after this
   * statement's snapshot, so the key it replaces isn't known here: nothing is written then, and the caller may retry.
   * `replaced`: the byte key of the row replaced, to delete after the commit.
   */
  async commitObject(
    p: TenantProject,
    o: Omit<ObjectRow, 'created_at' | 'updated_at' | 'last_accessed_at'>,
    upsert: boolean,
    now: Date,
  ): Promise<{ claimed: boolean; row: ObjectRow | null; replaced: string | null }> {
    const rows = await this.one<ObjectRow & { replaced: string | null; claimed: boolean; put: boolean }>(
      p,
      (t) => `WITH claim AS (DELETE FROM ${t.pending} WHERE key = $5 AND NOT claimed RETURNING key),
       cur AS (SELECT id, key, owner_id FROM ${t.objects} WHERE bucket_id = $2 AND name = $3 FOR UPDATE),
       put AS (
         INSERT INTO ${t.objects} AS x (id, bucket_id, name, owner_id, key, version, size, mime_type, etag, cache_control, user_metadata)
         SELECT coalesce((SELECT id FROM cur), $1::uuid), $2, $3, coalesce($4::text, (SELECT owner_id FROM cur)), $5, $6::uuid, $7::bigint, $8, $9, $10, $11::jsonb FROM claim
         ON CONFLICT (bucket_id, name) DO UPDATE SET owner_id = EXCLUDED.owner_id, key = EXCLUDED.key, version = EXCLUDED.version,
           size = EXCLUDED.size, mime_type = EXCLUDED.mime_type, etag = EXCLUDED.etag, cache_control = EXCLUDED.cache_control,
           user_metadata = EXCLUDED.user_metadata, updated_at = now(), last_accessed_at = now()
         WHERE $12::boolean AND x.key IS NOT DISTINCT FROM (SELECT key FROM cur)
         RETURNING ${OBJECT_COLUMNS}),
       gone AS (
         INSERT INTO ${t.pending} (key, sweep_after) SELECT key, $13 FROM cur WHERE EXISTS (SELECT 1 FROM put)
         ON CONFLICT (key) DO UPDATE SET sweep_after = EXCLUDED.sweep_after, reserved = 0)
       SELECT put.*, (SELECT key FROM cur) AS replaced, EXISTS (SELECT 1 FROM claim) AS claimed, put.id IS NOT NULL AS put
         FROM (SELECT 1) one LEFT JOIN put ON true`,
      [o.id, o.bucket_id, o.name, o.owner_id, o.key, o.version, o.size, o.mime_type, o.etag, o.cache_control, o.user_metadata === null ? null : JSON.stringify(o.user_metadata), upsert, now],
    );
    const { replaced, claimed, put, ...row } = rows[0];
    return { claimed, row: put ? (row as ObjectRow) : null, replaced: put ? replaced : null };
  }

  /**
   * Records `k` as pending (see storage-schema.ts) before its bytes are written: `reserved` bytes are held against
   * the stored-bytes quota until the key is committed or discarded, or `sweepAfter` passes. With a `cap`, the check
   * and the record are one transaction under a per-project lock, so concurrent uploads can't both pass the cap:
   * stored bytes (the `_storage_usage` counter, not a sum over every object) plus live reservations plus this one
   * must fit. `upTo`: the size is unknown — reserve what is left
   * of the cap, at most `k.reserved`. The bytes reserved, or null (refused: nothing recorded).
   */
  async reserve(p: TenantProject, k: { key: string; prefix?: boolean; reserved: number; sweepAfter: Date }, cap: number | null, now: Date, upTo = false): Promise<number | null> {
    const insert = (t: StorageTables) => `INSERT INTO ${t.pending} (key, prefix, reserved, sweep_after) VALUES ($1, $2, $3, $4)
      ON CONFLICT (key) DO UPDATE SET reserved = EXCLUDED.reserved, sweep_after = EXCLUDED.sweep_after, claimed = false`;
    if (cap === null) {
      await this.one(p, insert, [k.key, k.prefix === true, k.reserved, k.sweepAfter]);
      return k.reserved;
    }
    return this.transaction(p, async (tx, t) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`plinth-storage-quota:${p.ref}`]);
      const { rows } = await tx.query<{ used: number }>(
        `SELECT (SELECT coalesce(sum(bytes), 0) FROM ${t.usage})::float8
              + (SELECT coalesce(sum(reserved), 0) FROM ${t.pending} WHERE NOT claimed AND sweep_after > $1 AND key <> $2)::float8 AS used`,
        [now, k.key],
      );
      const left = cap - rows[0].used;
      const bytes = upTo ? Math.min(k.reserved, left) : k.reserved;
      if (left <= 0 || bytes > left || (upTo && bytes <= 0)) return null;
      await tx.query(insert(t), [k.key, k.prefix === true, bytes, k.sweepAfter]);
      return bytes;
    });
  }

  /** Records keys as pending deletion (due at once): before deleting bytes whose row may not be there. */
  async markPending(p: TenantProject, keys: string[], now: Date): Promise<void> {
    if (!keys.length) return;
    await this.one(p, (t) => `INSERT INTO ${t.pending} (key, sweep_after) SELECT unnest($1::text[]), $2 ON CONFLICT (key) DO UPDATE SET sweep_after = EXCLUDED.sweep_after, reserved = 0`, [keys, now]);
  }

  /** {@link markPending} inside a transaction. */
  async markPendingIn(tx: StorageTx, t: StorageTables, keys: string[], now: Date): Promise<void> {
    await tx.query(`INSERT INTO ${t.pending} (key, sweep_after) SELECT unnest($1::text[]), $2 ON CONFLICT (key) DO UPDATE SET sweep_after = EXCLUDED.sweep_after, reserved = 0`, [keys, now]);
  }

  /** Claims a key's pending row for a commit in `tx`; false when the sweeper took it (or it was never recorded). */
  async claimPending(tx: StorageTx, t: StorageTables, key: string): Promise<boolean> {
    return ((await tx.query(`DELETE FROM ${t.pending} WHERE key = $1 AND NOT claimed`, [key])).rowCount ?? 0) === 1;
  }

  /** Forgets pending keys whose bytes are gone (or were committed elsewhere); `claimedOnly`: the sweeper's own rows. */
  async forgetPending(p: TenantProject, keys: string[], claimedOnly = false): Promise<void> {
    if (!keys.length) return;
    await this.one(p, (t) => `DELETE FROM ${t.pending} WHERE key = ANY($1)${claimedOnly ? ' AND claimed' : ''}`, [keys]);
  }

  /**
   * The sweeper's batch: pending rows due at `now` (up to `limit`), claimed so that no commit can take them any
   * more, with whether some object row still points at the key (then only the row is dropped, never the bytes).
   */
  async claimDue(p: TenantProject, now: Date, limit: number): Promise<Array<{ key: string; prefix: boolean; referenced: boolean }>> {
    return this.one(
      p,
      (t) => `UPDATE ${t.pending} d SET claimed = true
               WHERE d.key IN (SELECT key FROM ${t.pending} WHERE sweep_after <= $1 ORDER BY sweep_after LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING d.key, d.prefix, EXISTS (SELECT 1 FROM ${t.objects} o WHERE o.key = d.key) AS referenced`,
      [now, limit],
    );
  }

  /** Deletes the named objects of a bucket that `allowed` passes; the deleted rows. Their keys become pending deletion. */
  async deleteObjects(p: TenantProject, bucket: string, names: string[], filter: ListQuery['rules'], now: Date): Promise<ObjectRow[]> {
    const values: unknown[] = [bucket, names];
    const rule = filter ? rulesSql(filter.rules, filter.caller, filter.action, values) : 'TRUE';
    values.push(now);
    const at = `$${values.length}`;
    return this.one<ObjectRow>(
      p,
      (t) => `WITH d AS (DELETE FROM ${t.objects} o WHERE o.bucket_id = $1 AND o.name = ANY($2) AND ${rule} RETURNING ${OBJECT_COLUMNS.replace(/(^|, )(\w+)/g, '$1o.$2')}),
              g AS (INSERT INTO ${t.pending} (key, sweep_after) SELECT key, ${at} FROM d ON CONFLICT (key) DO UPDATE SET sweep_after = EXCLUDED.sweep_after, reserved = 0)
              SELECT * FROM d`,
      values,
    );
  }

  /** Renames (and maybe re-buckets) an object; false if the destination is taken. The bytes don't move. */
  async rename(tx: StorageTx, t: StorageTables, id: string, toBucket: string, toName: string, ownerId: string | null): Promise<boolean> {
    const taken = await tx.query(`SELECT 1 FROM ${t.objects} WHERE bucket_id = $1 AND name = $2`, [toBucket, toName]);
    if (taken.rowCount) return false;
    await tx.query(`UPDATE ${t.objects} SET bucket_id = $2, name = $3, owner_id = coalesce($4, owner_id), updated_at = now() WHERE id = $1`, [id, toBucket, toName, ownerId]);
    return true;
  }

  /** Folder-style listing: the direct children of `prefix` — objects, and folders (names with more below them). */
  async list(p: TenantProject, bucket: string, q: ListQuery): Promise<ListedRow[]> {
    const base = q.prefix === '' ? '' : `${q.prefix}/`;
    const values: unknown[] = [bucket, likeLiteral(base + q.search) + '%', base.length];
    const rule = q.rules ? rulesSql(q.rules.rules, q.rules.caller, q.rules.action, values) : 'TRUE';
    values.push(q.limit, q.offset);
    const [limit, offset] = [`$${values.length - 1}`, `$${values.length}`];
    const dir = q.ascending ? 'ASC' : 'DESC';
    // Folders sort by name among the objects whatever the column (their timestamps are null, as Storage returns them).
    const order = q.sortColumn === 'name' ? `name ${dir}` : `${q.sortColumn} ${dir} NULLS FIRST, name ${dir}`;
    return this.one<ListedRow>(
      p,
      (t) => `
      WITH children AS (
        SELECT substr(o.name, $3 + 1) AS rest, o.* FROM ${t.objects} o
         WHERE o.bucket_id = $1 AND o.name LIKE $2 AND ${rule}
      )
      SELECT * FROM (
        SELECT DISTINCT split_part(rest, '/', 1) COLLATE "C" AS name, NULL::uuid AS id, NULL::float8 AS size, NULL::text AS mime_type, NULL::text AS etag,
               NULL::text AS cache_control, NULL::jsonb AS user_metadata, NULL::timestamptz AS created_at, NULL::timestamptz AS updated_at,
               NULL::timestamptz AS last_accessed_at
          FROM children WHERE strpos(rest, '/') > 0
        UNION ALL
        SELECT rest COLLATE "C", id, size::float8, mime_type, etag, cache_control, user_metadata, created_at, updated_at, last_accessed_at
          FROM children WHERE strpos(rest, '/') = 0
      ) listed ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
      values,
    );
  }

  /** Spends a signed-upload token; false if it was spent before. Expired entries are pruned on the way. */
  async spendUploadToken(tx: StorageTx, t: StorageTables, jti: string, expiresAt: Date): Promise<boolean> {
    await tx.query(`DELETE FROM ${t.uploadTokens} WHERE expires_at < now() - interval '1 hour'`);
    const r = await tx.query(`INSERT INTO ${t.uploadTokens} (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [jti, expiresAt]);
    return r.rowCount === 1;
  }

  /** Bytes stored by the project (every object's size). */
  async storedBytes(p: TenantProject): Promise<number> {
    const rows = await this.one<{ bytes: number }>(p, (t) => `SELECT coalesce(sum(size), 0)::float8 AS bytes FROM ${t.objects}`, []);
    return rows[0].bytes;
  }

  /** Deletes resumable uploads past their expiry (their parts are then orphans for the sweeper). */
  async dropExpiredUploads(p: TenantProject, now: Date): Promise<number> {
    return (await this.one(p, (t) => `DELETE FROM ${t.uploads} WHERE expires_at <= $1 RETURNING id`, [now])).length;
  }

  async createUpload(p: TenantProject, u: Omit<UploadRow, 'offset' | 'parts'>): Promise<void> {
    await this.one(
      p,
      (t) => `INSERT INTO ${t.uploads} (id, bucket_id, name, owner_id, upsert, length, content_type, cache_control, user_metadata, expires_at, creator)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [u.id, u.bucket_id, u.name, u.owner_id, u.upsert, u.length, u.content_type, u.cache_control, u.user_metadata === null ? null : JSON.stringify(u.user_metadata), u.expires_at, u.creator],
    );
  }

  /** An upload unexpired at `now`. */
  async upload(p: TenantProject, id: string, now: Date): Promise<UploadRow | null> {
    const rows = await this.one<UploadRow>(
      p,
      (t) => `SELECT id, bucket_id, name, owner_id, creator, upsert, length::float8 AS length, "offset"::float8 AS "offset", parts, content_type, cache_control, user_metadata, expires_at
                FROM ${t.uploads} WHERE id = $1 AND expires_at > $2`,
      [id, now],
    );
    return rows[0] ?? null;
  }

  /** Records a part written at `from`; false when another request moved the offset first (the part is then unused). */
  async addUploadPart(p: TenantProject, id: string, from: number, size: number, key: string): Promise<boolean> {
    const rows = await this.one(p, (t) => `UPDATE ${t.uploads} SET "offset" = "offset" + $3, parts = parts || $4::text WHERE id = $1 AND "offset" = $2 RETURNING id`, [id, from, size, key]);
    return rows.length === 1;
  }

  /** Sets a deferred upload's length; false when it was set already. */
  async setUploadLength(p: TenantProject, id: string, length: number): Promise<boolean> {
    return (await this.one(p, (t) => `UPDATE ${t.uploads} SET length = $2 WHERE id = $1 AND length IS NULL RETURNING id`, [id, length])).length === 1;
  }

  async deleteUpload(p: TenantProject, id: string): Promise<UploadRow | null> {
    const rows = await this.one<UploadRow>(p, (t) => `DELETE FROM ${t.uploads} WHERE id = $1 RETURNING id, parts`, [id]);
    return rows[0] ?? null;
  }
}
