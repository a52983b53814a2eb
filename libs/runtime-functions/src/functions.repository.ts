import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { CacheInvalidation } from '@plinth/database';
import { DEFAULT_PLAN_ID } from '@plinth/quotas';

/** What a version was deployed with (validated and capped at deploy). */
export interface FunctionSettings {
  verify_jwt: boolean;
  service_role: boolean;
  rpc: boolean;
  rpc_read_only: boolean;
  memory_mb: number;
  timeout_ms: number;
  cron: string | null;
}

export interface FunctionRow {
  id: string;
  project_id: string;
  name: string;
  current_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface VersionRow {
  id: string;
  function_id: string;
  version: number;
  language: 'js' | 'ts';
  settings: FunctionSettings;
  created_by: string | null;
  created_at: Date;
}

/** A function's current version, ready to run. */
export interface DeployedFunction {
  functionId: string;
  projectId: string;
  name: string;
  versionId: string;
  version: number;
  settings: FunctionSettings;
}

export interface LogRow {
  projectId: string;
  functionName: string;
  version: number;
  requestId: string;
  level: string;
  status: number;
  durationMs: number;
  cpuMs: number;
  memoryMb: number;
  lines: Array<{ at: number; level: string; message: string }>;
  error: string | null;
  at: Date;
}

/** control.functions, function_versions, function_secrets and function_logs. */
@Injectable()
export class FunctionsRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly invalidation: CacheInvalidation,
  ) {}

  async list(projectId: string): Promise<Array<FunctionRow & { settings: FunctionSettings; language: string }>> {
    return (await this.db.query(
      `SELECT f.*, v.settings, v.language FROM control.functions f JOIN control.function_versions v ON v.function_id = f.id AND v.version = f.current_version
        WHERE f.project_id = $1 ORDER BY f.name`,
      [projectId],
    )) as Array<FunctionRow & { settings: FunctionSettings; language: string }>;
  }

  async find(projectId: string, name: string): Promise<FunctionRow | undefined> {
    const rows = (await this.db.query(`SELECT * FROM control.functions WHERE project_id = $1 AND name = $2`, [projectId, name])) as FunctionRow[];
    return rows[0];
  }

  /** The function's current version with its settings, or undefined. */
  async deployed(projectId: string, name: string): Promise<DeployedFunction | undefined> {
    const rows = (await this.db.query(
      `SELECT f.id AS function_id, f.name, v.id AS version_id, v.version, v.settings FROM control.functions f
         JOIN control.function_versions v ON v.function_id = f.id AND v.version = f.current_version
        WHERE f.project_id = $1 AND f.name = $2`,
      [projectId, name],
    )) as Array<{ function_id: string; name: string; version_id: string; version: number; settings: FunctionSettings }>;
    const r = rows[0];
    return r && { functionId: r.function_id, projectId, name: r.name, versionId: r.version_id, version: r.version, settings: r.settings };
  }

  async compiled(versionId: string): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT compiled FROM control.function_versions WHERE id = $1`, [versionId])) as Array<{ compiled: string }>;
    return rows[0]?.compiled;
  }

  async versions(functionId: string): Promise<VersionRow[]> {
    return (await this.db.query(
      `SELECT id, function_id, version, language, settings, created_by, created_at FROM control.function_versions WHERE function_id = $1 ORDER BY version DESC`,
      [functionId],
    )) as VersionRow[];
  }

  async source(functionId: string, version: number): Promise<string | undefined> {
    const rows = (await this.db.query(`SELECT source FROM control.function_versions WHERE function_id = $1 AND version = $2`, [functionId, version])) as Array<{ source: string }>;
    return rows[0]?.source;
  }

  /** A new immutable version, made current; serialised per function by the row lock. */
  async deploy(projectId: string, name: string, v: { language: string; source: string; compiled: string; settings: FunctionSettings; createdBy: string }): Promise<number> {
    return this.db.transaction(async (m) => {
      await m.query(`INSERT INTO control.functions (project_id, name, current_version) VALUES ($1, $2, 0) ON CONFLICT (project_id, name) DO NOTHING`, [projectId, name]);
      const [f] = (await m.query(`SELECT id, (SELECT coalesce(max(version), 0) FROM control.function_versions WHERE function_id = functions.id) AS last FROM control.functions WHERE project_id = $1 AND name = $2 FOR UPDATE`, [
        projectId,
        name,
      ])) as Array<{ id: string; last: number }>;
      const version = Number(f.last) + 1;
      await m.query(`INSERT INTO control.function_versions (function_id, version, language, source, compiled, settings, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        f.id,
        version,
        v.language,
        v.source,
        v.compiled,
        JSON.stringify(v.settings),
        v.createdBy,
      ]);
      await m.query(`UPDATE control.functions SET current_version = $2, updated_at = now() WHERE id = $1`, [f.id, version]);
      return version;
    });
  }

  /** Points the function at an existing version; false when that version doesn't exist. */
  async rollback(functionId: string, version: number): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected] = (await this.db.query(
      `UPDATE control.functions SET current_version = $2, updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM control.function_versions WHERE function_id = $1 AND version = $2)`,
      [functionId, version],
    )) as [unknown[], number];
    return affected > 0;
  }

  async remove(functionId: string): Promise<void> {
    await this.db.query(`DELETE FROM control.functions WHERE id = $1`, [functionId]);
  }

  /** Functions with a cron schedule, across projects (current versions). */
  async scheduled(): Promise<Array<{ projectId: string; orgId: string; ref: string; name: string; cron: string }>> {
    const rows = (await this.db.query(
      `SELECT f.project_id, p.org_id, p.ref, f.name, v.settings->>'cron' AS cron FROM control.functions f
         JOIN control.function_versions v ON v.function_id = f.id AND v.version = f.current_version
         JOIN control.projects p ON p.id = f.project_id AND p.status = 'active'
        WHERE v.settings->>'cron' IS NOT NULL`,
    )) as Array<{ project_id: string; org_id: string; ref: string; name: string; cron: string }>;
    return rows.map((r) => ({ projectId: r.project_id, orgId: r.org_id, ref: r.ref, name: r.name, cron: r.cron }));
  }

  /** A transaction for writing outbox jobs. */
  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  async secrets(projectId: string): Promise<Array<{ name: string; value_enc: string; updated_at: Date }>> {
    return (await this.db.query(`SELECT name, value_enc, updated_at FROM control.function_secrets WHERE project_id = $1 ORDER BY name`, [projectId])) as Array<{
      name: string;
      value_enc: string;
      updated_at: Date;
    }>;
  }

  async putSecrets(projectId: string, sealed: Array<[string, string]>): Promise<void> {
    await this.db.transaction(async (m) => {
      for (const [name, value] of sealed) {
        await m.query(
          `INSERT INTO control.function_secrets (project_id, name, value_enc) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, name) DO UPDATE SET value_enc = EXCLUDED.value_enc, updated_at = now()`,
          [projectId, name, value],
        );
      }
    });
  }

  async deleteSecret(projectId: string, name: string): Promise<boolean> {
    const [, affected] = (await this.db.query(`DELETE FROM control.function_secrets WHERE project_id = $1 AND name = $2`, [projectId, name])) as [unknown[], number];
    return affected > 0;
  }

  async writeLogs(rows: LogRow[]): Promise<void> {
    if (!rows.length) return;
    const cols = 12;
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.projectId, r.functionName, r.version, r.requestId, r.level, r.status, r.durationMs, r.cpuMs, r.memoryMb, JSON.stringify(r.lines), r.error, r.at);
      return `(${Array.from({ length: cols }, (_, j) => `$${i * cols + j + 1}`).join(', ')})`;
    });
    await this.db.query(
      `INSERT INTO control.function_logs (project_id, function_name, version, request_id, level, status, duration_ms, cpu_ms, memory_mb, lines, error, created_at) VALUES ${tuples.join(', ')}`,
      values,
    );
  }

  async logs(projectId: string, name: string, q: { since: Date; limit: number; requestId?: string; errorsOnly: boolean }): Promise<Array<Record<string, unknown>>> {
    return (await this.db.query(
      `SELECT request_id, version, level, status, duration_ms, cpu_ms, memory_mb, lines, error, created_at FROM control.function_logs
        WHERE project_id = $1 AND function_name = $2 AND created_at >= $3 AND ($4::text IS NULL OR request_id = $4) AND (NOT $5 OR level = 'error')
        ORDER BY created_at DESC, id DESC LIMIT $6`,
      [projectId, name, q.since, q.requestId ?? null, q.errorsOnly, q.limit],
    )) as Array<Record<string, unknown>>;
  }

  /** Cache invalidation for other instances (CacheInvalidation's channel), outside any transaction. */
  async notify(topic: string, key: string): Promise<void> {
    await this.invalidation.publish(this.db.manager, topic, key);
  }

  /**
   * Deletes logs older than their project's plan keeps them (`function_log_retention_hours`, else `defaultMs`) at
   * `now`; only `projectIds` when given. Answers how many went.
   */
  async pruneLogs(now: Date, defaultMs: number, projectIds?: string[]): Promise<number> {
    const rows = (await this.db.query(
      `WITH kept AS (
         SELECT p.id, COALESCE((pl.limits->>'function_log_retention_hours')::float8 * 3600000, $2::float8) AS ms
           FROM control.projects p
           LEFT JOIN control.plans pl ON pl.id = COALESCE((SELECT plan_id FROM control.org_plans op WHERE op.org_id = p.org_id), $4)
          WHERE $3::uuid[] IS NULL OR p.id = ANY($3::uuid[]))
       , gone AS (
         DELETE FROM control.function_logs l USING kept
          WHERE l.project_id = kept.id AND l.created_at < $1::timestamptz - kept.ms * interval '1 millisecond'
         RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [now, defaultMs, projectIds ?? null, DEFAULT_PLAN_ID],
    )) as Array<{ n: number }>;
    return rows[0]?.n ?? 0;
  }
}
