import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { TenantClusters } from '@plinth/database';

/** A project as other libs need it: its id and public ref. */
export interface ProjectSummary {
  id: string;
  ref: string;
}

/**
 * Reads of `control.projects` for other libs (quotas, billing, metering): the table's one owner, so they don't write
 * SQL against it. Methods that take an EntityManager run in the caller's transaction (e.g. with the org row locked
 * by project admission), so their counts are consistent with what the caller does next.
 */
@Injectable()
export class ProjectsRepository {
  private readonly logger = new Logger(ProjectsRepository.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clusters: TenantClusters,
  ) {}

  /** Projects of the org that aren't deleted. */
  async countActiveInOrg(m: EntityManager, orgId: string): Promise<number> {
    const [{ n }] = (await m.query(`SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL`, [orgId])) as Array<{ n: number }>;
    return n;
  }

  /** Projects of the org that aren't deleted, oldest first. */
  async listActiveInOrg(m: EntityManager, orgId: string): Promise<ProjectSummary[]> {
    return (await m.query(`SELECT id, ref FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, [orgId])) as ProjectSummary[];
  }

  /** Every project the org has had, deleted ones included, oldest first. */
  async listInOrg(orgId: string): Promise<ProjectSummary[]> {
    return (await this.db.query(`SELECT id, ref FROM control.projects WHERE org_id = $1 ORDER BY created_at, id`, [orgId])) as ProjectSummary[];
  }

  /** Org, ref and cluster of each of these projects (deleted ones included); unknown ids are left out. */
  async refsByIds(ids: string[]): Promise<Array<ProjectSummary & { orgId: string; cluster: string }>> {
    if (!ids.length) return [];
    const rows = (await this.db.query(`SELECT id, org_id, ref, cluster FROM control.projects WHERE id = ANY($1::uuid[])`, [ids])) as Array<{ id: string; org_id: string; ref: string; cluster: string }>;
    return rows.map((r) => ({ id: r.id, orgId: r.org_id, ref: r.ref, cluster: r.cluster }));
  }

  /** The cluster a project's schema is on (null for an unknown ref), read in the caller's transaction when given. */
  async clusterOf(ref: string, m?: EntityManager): Promise<string | null> {
    const rows = (await (m ?? this.db).query(`SELECT cluster FROM control.projects WHERE ref = $1`, [ref])) as Array<{ cluster: string }>;
    return rows[0]?.cluster ?? null;
  }

  /** Active projects per cluster (placement). */
  async countActiveByCluster(): Promise<Map<string, number>> {
    const rows = (await this.db.query(`SELECT cluster, count(*)::int AS n FROM control.projects WHERE status = 'active' GROUP BY cluster`)) as Array<{ cluster: string; n: number }>;
    return new Map(rows.map((r) => [r.cluster, r.n]));
  }

  /**
   * Size in bytes of every relation (tables, materialized views, partitioned tables, with their indexes and TOAST) in
   * each active project's schema, read from the catalog of the cluster the project lives on. A project whose cluster
   * is not configured here, or can't be reached, is left out (logged): no sample rather than a false 0.
   */
  async activeSchemaSizes(): Promise<Array<{ id: string; bytes: number }>> {
    const projects = (await this.db.query(
      `SELECT id, cluster, schema_name AS schema FROM control.projects WHERE status = 'active' ORDER BY cluster, id`,
    )) as Array<{ id: string; cluster: string; schema: string }>;
    const byCluster = new Map<string, Array<{ id: string; schema: string }>>();
    for (const p of projects) byCluster.set(p.cluster, [...(byCluster.get(p.cluster) ?? []), p]);
    const out: Array<{ id: string; bytes: number }> = [];
    for (const [cluster, list] of byCluster) {
      if (!this.clusters.has(cluster)) {
        this.logger.warn(`${list.length} project(s) on unknown cluster "${cluster}": no db_bytes sample`);
        continue;
      }
      const sizes = `SELECT p.id, coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes
           FROM unnest($1::text[], $2::text[]) AS p(id, schema)
           LEFT JOIN pg_namespace n ON n.nspname = p.schema
           LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'p')
          GROUP BY p.id`;
      const params = [list.map((p) => p.id), list.map((p) => p.schema)];
      try {
        const rows = cluster === this.clusters.defaultName
          ? ((await this.db.query(sizes, params)) as Array<{ id: string; bytes: number }>)
          : await this.clusters.transaction(cluster, async (c) => (await c.query<{ id: string; bytes: number }>(sizes, params)).rows);
        out.push(...rows);
      } catch (err) {
        this.logger.warn(`cluster "${cluster}" unreadable, no db_bytes sample for its ${list.length} project(s): ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** Every active project with where its data lives (for runtimes' per-project sampling, e.g. stored file bytes). */
  async activeTargets(): Promise<Array<{ id: string; ref: string; cluster: string; schema: string; dataRole: string }>> {
    return (await this.db.query(
      `SELECT id, ref, cluster, schema_name AS schema, data_role AS "dataRole" FROM control.projects WHERE status = 'active' ORDER BY id`,
    )) as Array<{ id: string; ref: string; cluster: string; schema: string; dataRole: string }>;
  }
}
