import { Inject, Injectable } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { TenantClusters } from '@plinth/database';
import { ProjectsRepository } from './projects.repository';

const BYTES_TTL_MS = 60_000;

/**
 * Which cluster a new project goes to: an org pinned in DATABASE_ORG_PINS always gets its cluster; otherwise, by
 * DATABASE_PLACEMENT, the cluster with the fewest active projects (control.projects) or the fewest bytes in tenant
 * schemas (read on each cluster, cached a minute). Ties go to the cluster listed first (the default one first).
 */
@Injectable()
export class Placement {
  private bytes: { at: number; byCluster: Map<string, number> } | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly projects: ProjectsRepository,
    private readonly clusters: TenantClusters,
  ) {}

  async choose(orgId: string): Promise<string> {
    const names = this.clusters.names();
    const pinned = this.config.database.placement.orgPins[orgId];
    if (pinned !== undefined) return pinned;
    if (names.length === 1) return names[0];
    const load = this.config.database.placement.policy === 'least-bytes' ? await this.bytesByCluster(names) : await this.projects.countActiveByCluster();
    let best = names[0];
    for (const name of names) if ((load.get(name) ?? 0) < (load.get(best) ?? 0)) best = name;
    return best;
  }

  private async bytesByCluster(names: string[]): Promise<Map<string, number>> {
    if (this.bytes && Date.now() - this.bytes.at < BYTES_TTL_MS) return this.bytes.byCluster;
    const byCluster = new Map<string, number>();
    for (const name of names) {
      const bytes = await this.clusters.transaction(name, async (c) => {
        const { rows } = await c.query<{ bytes: string }>(
          `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::text AS bytes
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname ~ '^t_[a-z0-9]{4,32}$' AND c.relkind IN ('r', 'm', 'p')`,
        );
        return Number(rows[0].bytes);
      });
      byCluster.set(name, bytes);
    }
    this.bytes = { at: Date.now(), byCluster };
    return byCluster;
  }
}
