import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { CacheInvalidation } from '@plinth/database';
import { PROJECT_TOPIC, ProjectsService } from '@plinth/tenancy';
import type { TenantProject } from './tenant-context';

const MAX_ENTRIES = 20_000;

/**
 * Active projects by ref, cached like keys (KEY_CACHE_TTL_MS while changes are pushed), dropped at once on every
 * instance when a project is deleted or moves to another cluster.
 */
@Injectable()
export class ProjectDirectory implements OnModuleInit {
  private readonly cache = new Map<string, { project: TenantProject | null; until: number }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly projects: ProjectsService,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(PROJECT_TOPIC, (ref) => this.cache.delete(ref));
    this.invalidation.onResync(() => this.cache.clear());
  }

  async find(ref: string, now = Date.now()): Promise<TenantProject | null> {
    const hit = this.cache.get(ref);
    if (hit && hit.until > now) return hit.project;
    const row = await this.projects.findActive(ref);
    const project = row
      ? { id: row.id, ref: row.ref, orgId: row.orgId, cluster: row.cluster, schema: row.schemaName, dataRole: row.dataRole }
      : null;
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(ref, { project, until: now + this.invalidation.ttl(this.config.keys.cacheTtlMs) });
    return project;
  }
}
