import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { CacheInvalidation } from '@plinth/database';
import type { RateLimitRule } from './plan';

export const PROJECT_LIMITS_TOPIC = 'project-limits';
/** Changes are pushed to every instance, so an idle project's limits needn't be read again every few seconds. */
const TTL_MS = 10 * 60_000;

/** A project's own limits, set by its billing members: spend cap, per-meter caps, a lower rate limit, alert webhook. */
export interface ProjectLimits {
  spend_cap_cents: number | null;
  meter_caps: Record<string, number>;
  rate_limit: RateLimitRule | null;
  alert_webhook_url: string | null;
}

export const NO_LIMITS: ProjectLimits = { spend_cap_cents: null, meter_caps: {}, rate_limit: null, alert_webhook_url: null };

/** Data access and cache for control.project_limits; every instance drops its copy when one changes. */
@Injectable()
export class ProjectLimitsRepository implements OnModuleInit {
  private readonly cache = new Map<string, { limits: ProjectLimits; until: number }>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(PROJECT_LIMITS_TOPIC, (projectId) => this.cache.delete(projectId));
    this.invalidation.onResync(() => this.cache.clear());
  }

  /** {@link get} without waiting, for the request path: undefined when not cached (or expired). */
  cached(projectId: string): ProjectLimits | undefined {
    const hit = this.cache.get(projectId);
    return hit !== undefined && hit.until > Date.now() ? hit.limits : undefined;
  }

  async get(projectId: string): Promise<ProjectLimits> {
    const now = Date.now();
    const hit = this.cache.get(projectId);
    if (hit && hit.until > now) return hit.limits;
    const rows = (await this.db.query(
      `SELECT spend_cap_cents::float8 AS spend_cap_cents, meter_caps, rate_limit, alert_webhook_url FROM control.project_limits WHERE project_id = $1`,
      [projectId],
    )) as ProjectLimits[];
    const limits = rows[0] ?? NO_LIMITS;
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(projectId, { limits, until: now + this.invalidation.ttl(TTL_MS) });
    return limits;
  }

  async put(m: EntityManager, projectId: string, limits: ProjectLimits, userId: string, at: Date): Promise<void> {
    await m.query(
      `INSERT INTO control.project_limits (project_id, spend_cap_cents, meter_caps, rate_limit, alert_webhook_url, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (project_id) DO UPDATE SET spend_cap_cents = EXCLUDED.spend_cap_cents, meter_caps = EXCLUDED.meter_caps,
         rate_limit = EXCLUDED.rate_limit, alert_webhook_url = EXCLUDED.alert_webhook_url, updated_by = EXCLUDED.updated_by,
         updated_at = EXCLUDED.updated_at`,
      [projectId, limits.spend_cap_cents, JSON.stringify(limits.meter_caps), limits.rate_limit ? JSON.stringify(limits.rate_limit) : null, limits.alert_webhook_url, userId, at],
    );
    this.cache.delete(projectId);
    await this.invalidation.publish(m, PROJECT_LIMITS_TOPIC, projectId);
  }
}
