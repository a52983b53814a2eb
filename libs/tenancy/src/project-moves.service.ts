import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { Repository } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PlinthException, RequestMeta } from '@plinth/common';
import { CacheInvalidation, quoteIdent, TenantClusters } from '@plinth/database';
import { ProjectEntity } from './project.entity';
import { REF_PATTERN, tenantNames } from './project-ref';
import { PROJECT_TOPIC } from './projects.service';
import { Provisioner, sqlOn } from './provisioner';

/** Rows copied per round trip during a move. */
const BATCH = 1000;

export interface MoveResult {
  ref: string;
  from: string;
  to: string;
  tables: number;
  /** Rows copied while writes went on. */
  rows: number;
  /** Rows copied again (written meanwhile, or in a table without a primary key) once writes were blocked. */
  rows_while_read_only: number;
  /** How long writes were blocked (the source's tables locked against writes until the switch). */
  read_only_ms: number;
}

/**
 * Moves a project's schema to another cluster (operator only), in one transaction on each side. The schema and its
 * rows are copied to the target while writes go on; then writes are blocked on the source (its tables locked
 * EXCLUSIVE: reads go on, writers wait) and only what changed meanwhile is copied, with sequence positions, triggers
 * and grants; the project's row is switched to the target (every instance drops its cached routing on commit), then
 * the source schema is dropped — which fails the writers still waiting there (they get an error, never a silent
 * loss: nothing was acknowledged that isn't on the target). Any failure before the switch rolls back both sides and
 * leaves the project where it was.
 *
 * Copies what a tenant schema holds: tables (columns, defaults, identity, generated columns, constraints, indexes),
 * sequences, functions and procedures, views and materialized views (in dependency order), triggers, and the grants
 * on all of them; everything on the target is owned by the project's owner role, as provisioning makes it. A schema
 * holding anything else (aggregates, types of its own, foreign tables, partitioned tables, foreign keys to another
 * schema) is refused.
 */
@Injectable()
export class ProjectMoves {
  private readonly logger = new Logger(ProjectMoves.name);

  constructor(
    @InjectRepository(ProjectEntity) private readonly repo: Repository<ProjectEntity>,
    private readonly clusters: TenantClusters,
    private readonly provisioner: Provisioner,
    private readonly invalidation: CacheInvalidation,
    private readonly audit: AuditService,
  ) {}

  async move(ref: string, to: string, meta: RequestMeta): Promise<MoveResult> {
    if (!REF_PATTERN.test(ref)) throw PlinthException.notFound('Project');
    if (!this.clusters.has(to)) throw PlinthException.badRequest(`Unknown cluster "${to}"`, { clusters: this.clusters.names() });
    const names = tenantNames(ref);
    const found = await this.repo.findOne({ where: { ref, status: 'active' } });
    if (!found) throw PlinthException.notFound('Project');
    const from = found.cluster;
    if (from === to) throw PlinthException.conflict(`Project ${ref} is already on cluster "${to}"`);
    let copied: { tables: number; rows: number; again: number; lockedAt: number } | undefined;
    let sameServer = false;
    // The source transaction holds the write locks from before the copy until after the switch has committed, and
    // drops the source schema before letting them go: a writer waiting on the source never writes there after the
    // copy was taken, it fails instead.
    await this.clusters.transaction(from, async (source) => {
      try {
        await this.clusters.transaction(to, async (target) => {
          sameServer = (await systemId(source)) === (await systemId(target));
          copied = await this.copy(source, target, ref, names.schema);
        });
        await this.repo.manager.transaction(async (m) => {
          const project = await m.findOne(ProjectEntity, { where: { id: found.id, status: 'active' }, lock: { mode: 'pessimistic_write' } });
          if (!project || project.cluster !== from) throw PlinthException.conflict(`Project ${ref} changed while it was being moved`);
          await m.update(ProjectEntity, { id: project.id }, { cluster: to });
          // Every instance drops its cached routing of the project when this commits.
          await this.invalidation.publish(m, PROJECT_TOPIC, ref);
          await this.audit.record(m, { type: 'system', id: null, meta }, {
            orgId: project.orgId, action: 'project.move', targetType: 'project', targetId: ref, details: { from, to, tables: copied!.tables, rows: copied!.rows },
          });
        });
      } catch (err) {
        // Not switched: the project stays where it was (the source transaction rolls back, releasing the writers).
        if (copied) await this.dropCopy(to, ref, sameServer).catch((e) => this.logger.warn(`could not drop the copy of ${ref} on ${to}: ${(e as Error).message}`));
        throw err;
      }
      // Switched: the source schema goes in the transaction holding the locks (its waiting writers then fail), and
      // its roles with it unless the target is the same server (roles belong to the server).
      if (sameServer) await source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(names.schema)} CASCADE`);
      else await this.provisioner.deprovision(sqlOn(source), ref);
    });
    const c = copied!;
    return { ref, from, to, tables: c.tables, rows: c.rows, rows_while_read_only: c.again, read_only_ms: Math.round(performance.now() - c.lockedAt) };
  }

  private async dropCopy(cluster: string, ref: string, sameServer: boolean): Promise<void> {
    await this.clusters.transaction(cluster, async (c) => {
      if (sameServer) await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(tenantNames(ref).schema)} CASCADE`);
      else await this.provisioner.deprovision(sqlOn(c), ref);
    });
  }

  /**
   * Copies structure and rows into `target` while writes go on, then locks the source against writes, copies what
   * changed meanwhile, sequence positions, triggers and grants. A change to the schema's tables meanwhile fails the
   * move (409), which then leaves the project where it was.
   */
  private async copy(source: PoolClient, target: PoolClient, ref: string, schema: string): Promise<{ tables: number; rows: number; again: number; lockedAt: number }> {
    const s = quoteIdent(schema);
    const other = await source.query<{ what: string }>(
      `SELECT 'relation ' || c.relname AS what FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind NOT IN ('r', 'S', 'i', 'v', 'm')
       UNION ALL SELECT 'aggregate or window function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind NOT IN ('f', 'p')
       UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'm')
       UNION ALL SELECT 'foreign key ' || co.conname FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
        JOIN pg_class f ON f.oid = co.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE n.nspname = $1 AND fn.nspname <> $1`,
      [schema],
    );
    if (other.rows.length) throw PlinthException.conflict(`Project ${ref} holds objects a move can't copy`, { objects: other.rows.map((r) => r.what) });
    const tables = (await source.query<{ oid: number; name: string }>(
      `SELECT c.oid::int AS oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.oid`,
      [schema],
    )).rows;
    const shape = await fingerprint(source, schema);
    await this.provisioner.provisionSchema(sqlOn(target), ref);
    const { ownerRole } = tenantNames(ref);
    await target.query(`SET LOCAL ROLE ${quoteIdent(ownerRole)}`);
    const sequences = (await source.query<{ name: string; def: string }>(
      `SELECT c.relname AS name, format('CREATE SEQUENCE %s.%I AS %s INCREMENT %s MINVALUE %s MAXVALUE %s START %s CACHE %s%s', quote_ident(n.nspname), c.relname,
              format_type(q.seqtypid, NULL), q.seqincrement, q.seqmin, q.seqmax, q.seqstart, q.seqcache, CASE WHEN q.seqcycle THEN ' CYCLE' ELSE '' END) AS def
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence q ON q.seqrelid = c.oid
        WHERE n.nspname = $1 AND c.relkind = 'S'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')`,
      [schema],
    )).rows;
    for (const q of sequences) await target.query(q.def);
    const restricted = await this.copyFunctions(source, target, schema, true);
    const later: string[] = [];
    for (const t of tables) {
      const cols = (await source.query<{ name: string; type: string; notnull: boolean; def: string | null; identity: string; generated: string }>(
        `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS def,
                a.attidentity AS identity, a.attgenerated AS generated
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [t.oid],
      )).rows;
      const columns = cols.map((c) => {
        let sql = `${quoteIdent(c.name)} ${c.type}`;
        if (c.identity) sql += ` GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
        else if (c.generated === 's') sql += ` GENERATED ALWAYS AS (${c.def}) STORED`;
        else if (c.def !== null) sql += ` DEFAULT ${c.def}`;
        if (c.notnull) sql += ' NOT NULL';
        return sql;
      });
      await target.query(`CREATE TABLE ${s}.${quoteIdent(t.name)} (${columns.join(', ')})`);
      const constraints = (await source.query<{ name: string; def: string; type: string }>(
        `SELECT conname AS name, pg_get_constraintdef(oid) AS def, contype AS type FROM pg_constraint WHERE conrelid = $1 AND contype IN ('p', 'u', 'c', 'f', 'x') ORDER BY contype DESC`,
        [t.oid],
      )).rows;
      for (const c of constraints) {
        const sql = `ALTER TABLE ${s}.${quoteIdent(t.name)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def}`;
        if (c.type === 'f') later.push(sql);
        else await target.query(sql);
      }
      const indexes = (await source.query<{ def: string }>(
        `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i WHERE i.indrelid = $1
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = $1)`,
        [t.oid],
      )).rows;
      for (const i of indexes) await target.query(i.def);
    }
    for (const sql of later) await target.query(sql);
    // Functions on the schema's row types, then views (as the owner role: owned as provisioning owns them).
    const routines = await this.copyRoutinesAndViews(source, target, schema);
    // Rows, as the admin user with foreign keys and triggers off (tables may reference each other in any order).
    await target.query('SET LOCAL ROLE NONE');
    await target.query(`SET LOCAL session_replication_role = replica`);
    const shapes: Array<{ q: string; insertable: string; pk: string[] }> = [];
    for (const t of tables) {
      const cols = (await source.query<{ name: string; pk: boolean }>(
        `SELECT a.attname AS name, coalesce(a.attnum = ANY(i.indkey), false) AS pk
           FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
          WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`,
        [t.oid],
      )).rows;
      shapes.push({ q: `${s}.${quoteIdent(t.name)}`, insertable: cols.map((c) => quoteIdent(c.name)).join(', '), pk: cols.filter((c) => c.pk).map((c) => quoteIdent(c.name)) });
    }
    // First pass while writes go on, remembering which row version (ctid and creating transaction, unique among a
    // table's live rows) each copied row was, with its primary key.
    let rows = 0;
    const seen = new Map<string, Map<string, string>>();
    for (const t of shapes) {
      if (!t.pk.length) {
        rows += await copyRows(source, target, t, `SELECT row_to_json(x)::text AS r FROM ${t.q} x`);
        continue;
      }
      const versions = new Map<string, string>();
      seen.set(t.q, versions);
      rows += await copyRows(source, target, t,
        `SELECT row_to_json(x)::text AS r, x.ctid::text || '/' || x.xmin::text AS v, (SELECT row_to_json(k) FROM (SELECT ${t.pk.map((c) => `x.${c}`).join(', ')}) k)::text AS k FROM ${t.q} x`,
        versions);
    }
    const started = performance.now();
    // Writers wait from here (EXCLUSIVE conflicts with their ROW EXCLUSIVE); readers don't. Waits for writes in flight.
    if (tables.length) await source.query(`LOCK TABLE ${tables.map((t) => `${s}.${quoteIdent(t.name)}`).join(', ')} IN EXCLUSIVE MODE`);
    if ((await fingerprint(source, schema)) !== shape) throw PlinthException.conflict(`Project ${ref} changed its tables while it was being moved; try again`);
    // Second pass, writes blocked: what changed since the first. A row version still there is on the target as it is
    // (versions never change; an update makes a new one). Versions gone (deleted or updated) leave the target by
    // primary key, then the versions the first pass didn't see are fetched by ctid and copied. Tables without a
    // primary key are copied again whole.
    let again = 0;
    for (const t of shapes) {
      const versions = seen.get(t.q);
      if (!versions) {
        await target.query(`TRUNCATE ${t.q}`);
        again += await copyRows(source, target, t, `SELECT row_to_json(x)::text AS r FROM ${t.q} x`);
        continue;
      }
      const fresh: string[] = [];
      await source.query(`DECLARE plinth_versions NO SCROLL CURSOR FOR SELECT x.ctid::text AS c, x.xmin::text AS v FROM ${t.q} x`);
      for (;;) {
        const batch = await source.query<{ c: string; v: string }>(`FETCH ${BATCH * 10} FROM plinth_versions`);
        if (!batch.rows.length) break;
        for (const r of batch.rows) if (!versions.delete(`${r.c}/${r.v}`)) fresh.push(r.c);
      }
      await source.query('CLOSE plinth_versions');
      if (versions.size) {
        await target.query(
          `DELETE FROM ${t.q} t WHERE EXISTS (SELECT 1 FROM json_populate_recordset(NULL::${t.q}, $1::json) s WHERE ${t.pk.map((c) => `s.${c} = t.${c}`).join(' AND ')})`,
          [`[${[...versions.values()].join(',')}]`],
        );
      }
      for (let i = 0; i < fresh.length; i += BATCH) {
        const tids = fresh.slice(i, i + BATCH);
        if (!tids.every((c) => /^\(\d+,\d+\)$/.test(c))) throw new Error(`unexpected ctid in ${t.q}`);
        again += await copyRows(source, target, t, `SELECT row_to_json(x)::text AS r FROM ${t.q} x WHERE x.ctid = ANY('{${tids.map((c) => `"${c}"`).join(',')}}'::tid[])`);
      }
    }
    await target.query(`SET LOCAL session_replication_role = DEFAULT`);
    // Materialized views are filled from the copied rows; triggers go on last, so copying fired none.
    await target.query(`SET LOCAL ROLE ${quoteIdent(ownerRole)}`);
    for (const m of routines.matviews) await target.query(`REFRESH MATERIALIZED VIEW ${s}.${quoteIdent(m)}`);
    const triggers = (await source.query<{ def: string }>(
      `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY c.oid, t.tgname`,
      [schema],
    )).rows;
    for (const t of triggers) await target.query(t.def);
    await target.query('SET LOCAL ROLE NONE');
    // Sequence positions (identity sequences included), once no writer can move them any more.
    const positions = (await source.query<{ name: string; last: string | null }>(`SELECT sequencename AS name, last_value::text AS last FROM pg_sequences WHERE schemaname = $1`, [schema])).rows;
    for (const p of positions) {
      // last_value is null for a sequence never used: the target's is as new.
      if (p.last !== null) await target.query(`SELECT setval($1::regclass, $2::bigint, true)`, [`${s}.${quoteIdent(p.name)}`, p.last]);
    }
    // Grants on tables, columns and sequences, as they are on the source (the data and auth roles' privileges).
    const grants = (await source.query<{ sql: string }>(
      `SELECT format('GRANT %s ON %s.%I TO %I', a.privilege_type, quote_ident(n.nspname), c.relname, a.grantee::regrole::text) AS sql
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'S', 'v', 'm') AND a.grantee <> c.relowner AND a.grantee <> 0
       UNION ALL
       SELECT format('GRANT %s (%I) ON %s.%I TO %I', a.privilege_type, att.attname, quote_ident(n.nspname), c.relname, a.grantee::regrole::text)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute att ON att.attrelid = c.oid, aclexplode(att.attacl) a
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm') AND att.attnum > 0 AND NOT att.attisdropped AND a.grantee <> 0
       UNION ALL
       -- A function's grants as they are (a new function may be executed by PUBLIC: taken back first when the source did)
       SELECT CASE WHEN a.grantee = 0 THEN format('GRANT %s ON %s %s.%I(%s) TO PUBLIC', a.privilege_type, k.kind, quote_ident(n.nspname), p.proname, pg_get_function_identity_arguments(p.oid))
                   ELSE format('GRANT %s ON %s %s.%I(%s) TO %I', a.privilege_type, k.kind, quote_ident(n.nspname), p.proname, pg_get_function_identity_arguments(p.oid), a.grantee::regrole::text) END
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, LATERAL (SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind) k,
              aclexplode(p.proacl) a
        WHERE n.nspname = $1 AND p.proacl IS NOT NULL AND a.grantee <> p.proowner`,
      [schema],
    )).rows;
    await target.query(`SET LOCAL ROLE ${quoteIdent(ownerRole)}`);
    for (const r of [...restricted, ...routines.restricted]) await target.query(r);
    for (const g of grants) await target.query(g.sql);
    await target.query('SET LOCAL ROLE NONE');
    return { tables: tables.length, rows, again, lockedAt: started };
  }

  /**
   * The functions using the schema's own types (see {@link copyFunctions}), then views (pg_get_viewdef, with their
   * options; materialized ones empty, filled once the rows are in) in dependency order (a view on a view after it),
   * on the target as the owner role. Returns the materialized views to fill and the functions' REVOKEs.
   */
  private async copyRoutinesAndViews(source: PoolClient, target: PoolClient, schema: string): Promise<{ matviews: string[]; restricted: string[] }> {
    const restricted = await this.copyFunctions(source, target, schema, false);
    const views = (await source.query<{ oid: number; name: string; kind: string; def: string; options: string[] | null; deps: number[] }>(
      `SELECT c.oid::int AS oid, c.relname AS name, c.relkind::text AS kind, pg_get_viewdef(c.oid) AS def, c.reloptions AS options,
              coalesce((SELECT array_agg(DISTINCT d.refobjid::int) FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                         WHERE r.ev_class = c.oid AND d.refobjid <> c.oid), '{}') AS deps
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') ORDER BY c.oid`,
      [schema],
    )).rows;
    const s = quoteIdent(schema);
    const made = new Set<number>();
    const matviews: string[] = [];
    const create = async (v: (typeof views)[number], path: Set<number>): Promise<void> => {
      if (made.has(v.oid)) return;
      if (path.has(v.oid)) throw new Error(`views of ${schema} depend on each other in a cycle`);
      path.add(v.oid);
      for (const dep of v.deps) {
        const on = views.find((w) => w.oid === dep);
        if (on) await create(on, path);
      }
      const withOptions = v.options?.length ? ` WITH (${v.options.join(', ')})` : '';
      if (v.kind === 'm') {
        await target.query(`CREATE MATERIALIZED VIEW ${s}.${quoteIdent(v.name)}${withOptions} AS ${v.def.replace(/;\s*$/, '')} WITH NO DATA`);
        matviews.push(v.name);
      } else {
        await target.query(`CREATE VIEW ${s}.${quoteIdent(v.name)}${withOptions} AS ${v.def}`);
      }
      made.add(v.oid);
    };
    for (const v of views) await create(v, new Set());
    // Indexes on materialized views.
    const indexes = (await source.query<{ def: string }>(
      `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'm'`,
      [schema],
    )).rows;
    for (const i of indexes) await target.query(i.def);
    return { matviews, restricted };
  }

  /**
   * Functions and procedures (pg_get_functiondef), bodies unchecked while created (one may use a view made after
   * it): `early` those whose signature uses none of the schema's own types, made before the tables (a default or a
   * check may call one), else the others, made once the tables (and their row types) exist. Returns, for each
   * function whose source took EXECUTE away from PUBLIC, the REVOKE to repeat before its grants are copied.
   */
  private async copyFunctions(source: PoolClient, target: PoolClient, schema: string, early: boolean): Promise<string[]> {
    const functions = (await source.query<{ def: string; revoke: string | null }>(
      `SELECT pg_get_functiondef(p.oid) AS def,
              CASE WHEN p.proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)
                   THEN format('REVOKE ALL ON %s %s.%I(%s) FROM PUBLIC', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
                               quote_ident(n.nspname), p.proname, pg_get_function_identity_arguments(p.oid)) END AS revoke
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
          AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_type ty ON ty.oid = d.refobjid
                       WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_type'::regclass AND ty.typnamespace = n.oid) <> $2
        ORDER BY p.oid`,
      [schema, early],
    )).rows;
    await target.query('SET LOCAL check_function_bodies = off');
    for (const f of functions) await target.query(f.def);
    await target.query('SET LOCAL check_function_bodies = on');
    return functions.map((f) => f.revoke).filter((r): r is string => r !== null);
  }
}

/**
 * Rows of one table, as `select` gives them on the source (`r`, a row as JSON), inserted into the target in slices.
 * With `versions`, `select` also gives each row's version `v` and primary key `k` (JSON), remembered there.
 */
async function copyRows(source: PoolClient, target: PoolClient, t: { q: string; insertable: string }, select: string, versions?: Map<string, string>): Promise<number> {
  let rows = 0;
  // In slices through a cursor: one aggregate per table would hold the whole table in memory.
  await source.query(`DECLARE plinth_move NO SCROLL CURSOR FOR ${select}`);
  for (;;) {
    const batch = await source.query<{ r: string; v?: string; k?: string }>(`FETCH ${BATCH} FROM plinth_move`);
    if (!batch.rows.length) break;
    await target.query(
      `INSERT INTO ${t.q} (${t.insertable}) OVERRIDING SYSTEM VALUE SELECT ${t.insertable} FROM json_populate_recordset(NULL::${t.q}, $1::json)`,
      [`[${batch.rows.map((r) => r.r).join(',')}]`],
    );
    if (versions) for (const r of batch.rows) versions.set(r.v!, r.k!);
    rows += batch.rows.length;
  }
  await source.query('CLOSE plinth_move');
  return rows;
}

/**
 * What the schema is made of (relations, columns, constraints, indexes, functions, triggers), hashed: compared before
 * the first pass and once writes are blocked, so DDL in between (a table declared or altered) fails the move.
 */
async function fingerprint(c: PoolClient, schema: string): Promise<string> {
  const { rows } = await c.query<{ h: string }>(
    `SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) AS h FROM (
       SELECT c.oid::text || c.relname || c.relkind::text || coalesce(string_agg(a.attname || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum), '') AS x
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = $1 GROUP BY c.oid
       UNION ALL SELECT co.conname || pg_get_constraintdef(co.oid) FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE n.nspname = $1
       UNION ALL SELECT p.oid::text || md5(pg_get_functiondef(p.oid)) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
       UNION ALL SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND NOT t.tgisinternal
     ) parts`,
    [schema],
  );
  return rows[0].h;
}

async function systemId(c: PoolClient): Promise<string> {
  return (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0].id;
}
