import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { hashToken } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import { ApiKeyEntity, KeyScopes, KeyType } from './api-key.entity';
import { KEY_TOPIC } from './api-key.service';
import { keyTypeOf } from './key-format';

/** A key that exists and isn't revoked; expiry is checked against the clock on every use. */
export interface VerifiedKey {
  id: string;
  projectId: string;
  type: KeyType;
  scopes: KeyScopes | null;
  allowedOrigins: string[] | null;
  allowedIps: string[] | null;
  allowBrowser: boolean;
  expiresAt: number | null;
}

interface CacheEntry {
  key: VerifiedKey | null;
  until: number;
}

const MAX_ENTRIES = 50_000;
const LAST_USED_FLUSH_MS = 30_000;

/**
 * Resolves a presented key. Shape and checksum are checked offline first, so garbage never reaches the
 * database. Results (including "no such key") are cached for KEY_CACHE_TTL_MS (default 10 min: an idle project's
 * key shouldn't cost a control-plane lookup every few seconds) and dropped at once when any instance revokes or
 * rotates the key, which is pushed over LISTEN/NOTIFY; while that push is down entries live a second at most and
 * the cache is emptied when it is lost and when it is back (see CacheInvalidation). Last use is recorded in memory and written in batches.
 */
@Injectable()
export class KeyVerifier implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KeyVerifier.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastUsed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(KEY_TOPIC, (hash) => this.cache.delete(hash));
    this.invalidation.onResync(() => this.cache.clear());
    this.timer = setInterval(() => void this.flushLastUsed(), LAST_USED_FLUSH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flushLastUsed();
  }

  /** The key's record when it is well formed, known, not revoked and not expired; otherwise null. */
  async verify(presented: string, now = Date.now()): Promise<VerifiedKey | null> {
    const hash = hashToken(presented);
    let entry = this.cache.get(hash);
    if (!entry || entry.until <= now) {
      // Only well-formed keys are ever cached, so a hit needs no second shape and checksum check.
      if (!keyTypeOf(presented)) return null;
      entry = { key: await this.load(hash), until: now + this.invalidation.ttl(this.config.keys.cacheTtlMs) };
      if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, entry);
    }
    const key = entry.key;
    if (!key || (key.expiresAt !== null && key.expiresAt <= now)) return null;
    this.lastUsed.set(key.id, now);
    return key;
  }

  private async load(hash: string): Promise<VerifiedKey | null> {
    const row = await this.repo.findOne({ where: { keyHash: hash } });
    if (!row || row.revokedAt) return null;
    return {
      id: row.id,
      projectId: row.projectId,
      type: row.type,
      scopes: row.scopes,
      allowedOrigins: row.allowedOrigins,
      allowedIps: row.allowedIps,
      allowBrowser: row.allowBrowser,
      expiresAt: row.expiresAt?.getTime() ?? null,
    };
  }

  /** One statement for every key used since the last flush; never moves last_used_at backwards. */
  async flushLastUsed(): Promise<void> {
    if (!this.lastUsed.size) return;
    const batch = [...this.lastUsed.entries()];
    this.lastUsed.clear();
    try {
      await this.repo.query(
        `UPDATE control.api_keys k SET last_used_at = v.t
           FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, t)
          WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.t)`,
        [batch.map(([id]) => id), batch.map(([, t]) => new Date(t).toISOString())],
      );
    } catch (err) {
      this.logger.warn(`could not record key last-use: ${(err as Error).message}`);
    }
  }
}
