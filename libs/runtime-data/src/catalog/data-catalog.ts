import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { CacheInvalidation } from '@plinth/database';
import { DataSettingsEntity } from './data-settings';
import { DataTableEntity } from './data-table.entity';
import { compileCatalog, ProjectCatalog } from './project-catalog';

export const DATA_CATALOG_TOPIC = 'data_catalog';
/** Changes are pushed, so the TTL only bounds memory of what an instance no longer serves. */
const TTL_MS = 10 * 60_000;
/** Least recently used go first; sized for the 10,000 projects a cluster holds (issue 21). */
const MAX_ENTRIES = 20_000;

/**
 * Declared catalogs per project, compiled and cached. A change publishes on {@link DATA_CATALOG_TOPIC} in its
 * transaction (every instance drops the entry on commit) and drops the local entry at once; the TTL only heals a
 * missed notification (and the cache is emptied when notifications may have been missed). A generation counter keeps a load that raced a change from caching the old catalog.
 */
@Injectable()
export class DataCatalog implements OnModuleInit {
  private readonly cache = new Map<string, { value: ProjectCatalog; until: number }>();
  private readonly loading = new Map<string, Promise<ProjectCatalog>>();
  private readonly generation = new Map<string, number>();
  private epoch = 0;

  constructor(
    @InjectRepository(DataTableEntity) private readonly repo: Repository<DataTableEntity>,
    private readonly invalidation: CacheInvalidation,
    @InjectRepository(DataSettingsEntity) private readonly settings: Repository<DataSettingsEntity>,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(DATA_CATALOG_TOPIC, (projectId) => this.invalidate(projectId));
    this.invalidation.onResync(() => {
      this.epoch++;
      this.cache.clear();
      this.loading.clear();
    });
  }

  async get(project: { id: string; schema: string }, now = Date.now()): Promise<ProjectCatalog> {
    const hit = this.cache.get(project.id);
    if (hit && hit.until > now) {
      // Least recently used order: a hit moves to the back of the Map.
      this.cache.delete(project.id);
      this.cache.set(project.id, hit);
      return hit.value;
    }
    const inflight = this.loading.get(project.id);
    if (inflight) return inflight;
    const gen = this.generation.get(project.id) ?? 0;
    const epoch = this.epoch;
    const load = Promise.all([
      this.repo.find({ where: { projectId: project.id }, order: { createdAt: 'ASC' } }),
      this.settings.findOne({ where: { projectId: project.id } }),
    ])
      .then(([rows, settings]) => {
        const value = compileCatalog(project.id, project.schema, rows, settings ?? undefined);
        if ((this.generation.get(project.id) ?? 0) === gen && this.epoch === epoch) {
          if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
          this.cache.set(project.id, { value, until: now + this.invalidation.ttl(TTL_MS) });
        }
        return value;
      })
      .finally(() => this.loading.delete(project.id));
    this.loading.set(project.id, load);
    return load;
  }

  invalidate(projectId: string): void {
    this.generation.set(projectId, (this.generation.get(projectId) ?? 0) + 1);
    this.cache.delete(projectId);
    this.loading.delete(projectId);
  }

  /** Tells every instance, on commit of `m`'s transaction, that the project's catalog changed. */
  publish(m: EntityManager, projectId: string): Promise<void> {
    return this.invalidation.publish(m, DATA_CATALOG_TOPIC, projectId);
  }
}
