import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { generateToken, hashToken, PlinthException } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import { ApiKeyEntity, KeyScopes, KeyType } from './api-key.entity';
import type { CreateKeyInput } from './api-key.dto';
import { KEY_PREFIX } from './key-format';

export const KEY_TOPIC = 'api_key';

export interface ApiKeyView {
  id: string;
  type: KeyType;
  name: string;
  last4: string;
  display: string;
  scopes: string[] | null;
  tables: string[] | null;
  buckets: string[] | null;
  read_only: boolean;
  allowed_origins: string[] | null;
  allowed_ips: string[] | null;
  allow_browser: boolean;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_from: string | null;
  created_at: string;
  last_used_at: string | null;
}

/** Project API keys: created, listed, revoked and rotated per project. Only SHA-256 hashes are stored. */
@Injectable()
export class ApiKeyService {
  constructor(
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly invalidation: CacheInvalidation,
  ) {}

  /** Creates a key inside the caller's transaction; the plaintext is returned once and never stored. */
  async create(m: EntityManager, projectId: string, input: CreateKeyInput, createdBy: string | null): Promise<{ view: ApiKeyView; key: string }> {
    const key = generateToken(KEY_PREFIX[input.type]);
    const scopes: KeyScopes | null =
      input.type === 'restricted'
        ? { scopes: input.scopes ?? [], tables: input.tables, buckets: input.buckets, read_only: input.read_only ?? false }
        : null;
    const row = await m.save(
      m.create(ApiKeyEntity, {
        projectId,
        type: input.type,
        name: input.name,
        keyHash: hashToken(key),
        last4: key.slice(-4),
        scopes,
        allowedOrigins: input.allowed_origins ?? null,
        allowedIps: input.allowed_ips ?? null,
        allowBrowser: input.allow_browser ?? false,
        expiresAt: input.expires_at ? new Date(input.expires_at) : null,
        revokedAt: null,
        rotatedFrom: null,
        createdBy,
        lastUsedAt: null,
      }),
    );
    return { view: keyView(row), key };
  }

  async list(projectId: string): Promise<ApiKeyView[]> {
    const rows = await this.repo.find({ where: { projectId }, order: { createdAt: 'ASC' } });
    return rows.map(keyView);
  }

  async revoke(m: EntityManager, projectId: string, id: string): Promise<ApiKeyView> {
    const row = await m.findOne(ApiKeyEntity, { where: { id, projectId }, lock: { mode: 'pessimistic_write' } });
    if (!row) throw PlinthException.notFound('API key');
    if (!row.revokedAt) {
      row.revokedAt = new Date();
      await m.update(ApiKeyEntity, { id }, { revokedAt: row.revokedAt });
      await this.invalidation.publish(m, KEY_TOPIC, row.keyHash);
    }
    return keyView(row);
  }

  /** Revokes every key of a project (project deletion). */
  async revokeAll(m: EntityManager, projectId: string): Promise<void> {
    const rows = await m.find(ApiKeyEntity, { where: { projectId } });
    await m.update(ApiKeyEntity, { projectId }, { revokedAt: () => 'coalesce(revoked_at, now())' });
    for (const r of rows) await this.invalidation.publish(m, KEY_TOPIC, r.keyHash);
  }

  /**
   * Issues a replacement with the same type and restrictions. The old key keeps working until `expireOldAt`
   * (default: now), so deployments can roll over without downtime.
   */
  async rotate(m: EntityManager, projectId: string, id: string, expireOldAt: Date, createdBy: string | null): Promise<{ view: ApiKeyView; key: string; old: ApiKeyView }> {
    const old = await m.findOne(ApiKeyEntity, { where: { id, projectId }, lock: { mode: 'pessimistic_write' } });
    if (!old || old.revokedAt || (old.expiresAt && old.expiresAt.getTime() <= Date.now())) {
      throw PlinthException.notFound('API key');
    }
    const created = await this.create(
      m,
      projectId,
      {
        type: old.type,
        name: old.name,
        scopes: old.scopes?.scopes,
        tables: old.scopes?.tables,
        buckets: old.scopes?.buckets,
        read_only: old.type === 'restricted' ? (old.scopes?.read_only ?? false) : undefined,
        allowed_origins: old.allowedOrigins ?? undefined,
        allowed_ips: old.allowedIps ?? undefined,
        allow_browser: old.type === 'secret' ? old.allowBrowser : undefined,
        expires_at: old.expiresAt?.toISOString(),
      },
      createdBy,
    );
    await m.update(ApiKeyEntity, { id: created.view.id }, { rotatedFrom: old.id });
    created.view.rotated_from = old.id;
    const expiresAt = old.expiresAt && old.expiresAt < expireOldAt ? old.expiresAt : expireOldAt;
    await m.update(ApiKeyEntity, { id: old.id }, { expiresAt });
    old.expiresAt = expiresAt;
    await this.invalidation.publish(m, KEY_TOPIC, old.keyHash);
    return { ...created, old: keyView(old) };
  }
}

export function keyView(r: ApiKeyEntity): ApiKeyView {
  const prefix = KEY_PREFIX[r.type];
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    last4: r.last4,
    display: `${prefix}_…${r.last4}`,
    scopes: r.scopes?.scopes ?? null,
    tables: r.scopes?.tables ?? null,
    buckets: r.scopes?.buckets ?? null,
    read_only: r.scopes?.read_only ?? false,
    allowed_origins: r.allowedOrigins,
    allowed_ips: r.allowedIps,
    allow_browser: r.allowBrowser,
    expires_at: r.expiresAt?.toISOString() ?? null,
    revoked_at: r.revokedAt?.toISOString() ?? null,
    rotated_from: r.rotatedFrom,
    created_at: r.createdAt.toISOString(),
    last_used_at: r.lastUsedAt?.toISOString() ?? null,
  };
}
