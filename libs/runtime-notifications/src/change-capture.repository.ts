import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { TenantClusters } from '@plinth/database';
import { sqlOn } from '@plinth/tenancy';
import { CAPTURE_TOPIC } from './job-names';

/** A captured change, as the trigger wrote it. */
export interface CapturedChange {
  seq: string;
  tbl: string;
  op: string;
  record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
  at: Date;
}

export interface CaptureTarget {
  projectId: string;
  schema: string;
  ownerRole: string;
  /** The cluster the schema is on: its DDL and reads go there. */
  cluster: string;
}

/** SQL on a cluster: the control transaction (default cluster) or a transaction of another cluster. */
interface ClusterSql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const q = (name: string) => {
  if (!IDENT.test(name)) throw new Error(`refusing identifier ${name}`);
  return `"${name}"`;
};

/**
 * Change capture in a project's schema: `_notify_events` (the tenant-side outbox of data and auth events) and the
 * triggers that fill it, in the writing transaction itself, so a committed change is always captured and a rolled
 * back one never is; `seq` follows commit order for any one row (a second writer waits for the first's row lock).
 * The trigger functions are SECURITY DEFINER of the project's owner role, so the data role (which has no grant on
 * the table) can write events only through them. User events carry public profile fields only, never a password
 * hash. A notification on commit wakes the drain on every worker (CacheInvalidation's channel).
 */
@Injectable()
export class ChangeCaptureRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly clusters: TenantClusters,
  ) {}

  /**
   * Runs `fn` on the project's cluster: in `m` (or the control pool) on the default one, else in a transaction of
   * that cluster, committed before the caller's (DDL here is idempotent, so a caller rolling back later leaves at
   * most an unused events table or trigger behind).
   */
  private on<T>(m: EntityManager | undefined, cluster: string, fn: (sql: ClusterSql) => Promise<T>): Promise<T> {
    if (cluster === this.clusters.defaultName) return fn(m ?? this.db);
    return this.clusters.transaction(cluster, (c) => fn(sqlOn(c)));
  }

  /** Creates the events table and trigger functions (idempotent), as the owner role, on the project's cluster (in `m` on the default one). */
  async ensureTable(m: EntityManager, t: CaptureTarget): Promise<void> {
    const s = q(t.schema);
    const wake = JSON.stringify({ topic: CAPTURE_TOPIC, key: t.projectId }).replace(/'/g, "''");
    await this.on(m, t.cluster, async (sql) => {
      await sql.query(`SET LOCAL ROLE ${q(t.ownerRole)}`);
      await sql.query(`
        CREATE TABLE IF NOT EXISTS ${s}._notify_events (
          seq bigserial PRIMARY KEY,
          tbl text NOT NULL,
          op text NOT NULL,
          record jsonb,
          old_record jsonb,
          at timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE OR REPLACE FUNCTION ${s}._notify_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
        BEGIN
          INSERT INTO ${s}._notify_events (tbl, op, record, old_record)
          VALUES (TG_TABLE_NAME, lower(TG_OP), CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END, CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END);
          PERFORM pg_notify('plinth_invalidate', '${wake}');
          RETURN NULL;
        END $f$;
        CREATE OR REPLACE FUNCTION ${s}._notify_capture_users() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
        DECLARE u record;
        BEGIN
          IF TG_OP = 'UPDATE' AND NEW.last_sign_in_at IS NOT DISTINCT FROM OLD.last_sign_in_at THEN RETURN NULL; END IF;
          IF TG_OP = 'DELETE' THEN u := OLD; ELSE u := NEW; END IF;
          INSERT INTO ${s}._notify_events (tbl, op, record)
          VALUES ('_auth_users', CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'DELETE' THEN 'deleted' ELSE 'signed_in' END,
                  jsonb_build_object('id', u.id, 'email', u.email, 'is_anonymous', u.is_anonymous, 'user_metadata', u.user_metadata,
                                     'app_metadata', u.app_metadata, 'created_at', u.created_at, 'last_sign_in_at', u.last_sign_in_at));
          PERFORM pg_notify('plinth_invalidate', '${wake}');
          RETURN NULL;
        END $f$;
      `);
      await sql.query('SET LOCAL ROLE NONE');
    });
  }

  /** Adds the capture trigger to a declared table (if it exists) and/or the auth users table. */
  async ensureTriggers(m: EntityManager, t: CaptureTarget, tables: string[], users: boolean): Promise<void> {
    const s = q(t.schema);
    await this.on(m, t.cluster, async (sql) => {
      const existing = (await sql.query(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2::text[])`,
        [t.schema, tables],
      )) as Array<{ relname: string }>;
      await sql.query(`SET LOCAL ROLE ${q(t.ownerRole)}`);
      for (const { relname } of existing) {
        if (relname.startsWith('_')) continue;
        await sql.query(`CREATE OR REPLACE TRIGGER _notify_capture AFTER INSERT OR UPDATE OR DELETE ON ${s}.${q(relname)} FOR EACH ROW EXECUTE FUNCTION ${s}._notify_capture()`);
      }
      if (users) {
        await sql.query(`CREATE OR REPLACE TRIGGER _notify_capture AFTER INSERT OR DELETE OR UPDATE OF last_sign_in_at ON ${s}._auth_users FOR EACH ROW EXECUTE FUNCTION ${s}._notify_capture_users()`);
      }
      await sql.query('SET LOCAL ROLE NONE');
    });
  }

  /** The project's declared tables (its schema's tables not starting with `_`), read on its cluster. */
  async declaredTables(m: EntityManager, t: Pick<CaptureTarget, 'schema' | 'cluster'>): Promise<string[]> {
    return this.on(m, t.cluster, async (sql) => {
      const rows = (await sql.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename NOT LIKE '\\_%'`, [t.schema])) as Array<{ tablename: string }>;
      return rows.map((r) => r.tablename);
    });
  }

  /** The oldest captured changes (an empty list when the project captures nothing yet). */
  async pending(t: Pick<CaptureTarget, 'schema' | 'cluster'>, limit: number): Promise<CapturedChange[]> {
    return this.on(undefined, t.cluster, async (sql) => {
      const exists = (await sql.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${q(t.schema)}._notify_events`])) as Array<{ ok: boolean }>;
      if (!exists[0].ok) return [];
      return (await sql.query(`SELECT seq::text AS seq, tbl, op, record, old_record, at FROM ${q(t.schema)}._notify_events ORDER BY seq LIMIT $1`, [limit])) as CapturedChange[];
    });
  }

  /** Removes changes once their messages are committed (by seq: a change that commits meanwhile stays). */
  async remove(t: Pick<CaptureTarget, 'schema' | 'cluster'>, seqs: string[]): Promise<void> {
    await this.on(undefined, t.cluster, (sql) => sql.query(`DELETE FROM ${q(t.schema)}._notify_events WHERE seq = ANY($1::bigint[])`, [seqs]));
  }

  /** Projects with an endpoint or a template trigger following data or auth events (the periodic drain's list). */
  async capturingProjects(): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT DISTINCT project_id FROM control.webhook_endpoints e, unnest(e.events) ev WHERE ev = '*' OR ev LIKE '%.insert' OR ev LIKE '%.update' OR ev LIKE '%.delete' OR ev LIKE 'user.%'
       UNION SELECT project_id FROM control.notification_templates WHERE triggers <> '[]'::jsonb`,
    )) as Array<{ project_id: string }>;
    return rows.map((r) => r.project_id);
  }

  /** Events of a project some endpoint subscribes to or some template trigger follows (what capture must switch on). */
  async capturedEvents(projectId: string, m?: EntityManager): Promise<Set<string>> {
    const rows = (await (m ?? this.db).query(
      `SELECT unnest(events) AS ev FROM control.webhook_endpoints WHERE project_id = $1
       UNION SELECT t->>'event' FROM control.notification_templates, jsonb_array_elements(triggers) t WHERE project_id = $1`,
      [projectId],
    )) as Array<{ ev: string }>;
    return new Set(rows.map((r) => r.ev));
  }

  /** Events of a project some endpoint subscribes to (so unsubscribed changes make no message). */
  async subscribedEvents(projectId: string, m?: EntityManager): Promise<Set<string>> {
    const rows = (await (m ?? this.db).query(`SELECT DISTINCT unnest(events) AS ev FROM control.webhook_endpoints WHERE project_id = $1`, [projectId])) as Array<{ ev: string }>;
    return new Set(rows.map((r) => r.ev));
  }
}
