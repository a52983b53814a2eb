import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { AuditActor, AuditService } from '@plinth/audit';
import { ErrorCode, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { Principal } from '@plinth/identity';
import { PlansService } from '@plinth/quotas';
import { ProjectEntity, ProjectsService } from '@plinth/tenancy';
import { normaliseRules, renameInRules, RuleInput, rulesMention, StoredRule, validateRules } from '../rules/table-rules';
import { DataCatalog } from './data-catalog';
import { DEFAULT_DATA_SETTINGS, DataSettingsEntity, PatchDataSettingsInput, dataSettingsView } from './data-settings';
import { DataTableEntity } from './data-table.entity';
import { TableHooks } from './table-hooks';
import {
  CreateTableInput,
  PatchTableInput,
  TableDefinition,
  alterColumns,
  alterationPaths,
  columnDefinition,
  defaultView,
  indexDefinition,
  primaryKeyOf,
  tableDefinition,
  validateTable,
} from './table-definition';
import { DdlTarget, addColumnSql, alterColumnSql, createTableSql, dropColumnSql, dropIndexSql, dropTableSql, indexSql, quoteIdent, renameColumnSql } from './table-ddl';

/** Who manages a project's tables: a console user (org role checked per project) or the project's secret key. */
export type TableAdmin = { kind: 'console'; principal: Principal } | { kind: 'key'; projectId: string; actor: AuditActor };

export interface TableView {
  name: string;
  columns: Array<Record<string, unknown>>;
  indexes: Array<{ name: string; columns: string[]; unique: boolean }>;
  primary_key: string[];
  rules: StoredRule[];
  created_at: string;
  updated_at: string;
}

type Problems = Array<{ path: string; message: string }>;

function invalid(problems: Problems): PlinthException {
  return new PlinthException(ErrorCode.ValidationFailed, `Request is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
}

/** What a DDL statement changes, for an error that names it. */
interface DdlLabel {
  column: string;
  path: string;
}

/**
 * PostgreSQL errors DDL can raise because of the data or the request, as 4xx; anything else stays a 500. A labelled
 * statement's error also carries `[{path, message}]`, so a form shows it beside the field.
 */
function ddlError(err: unknown, label?: DdlLabel): unknown {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code !== 'string') return err;
  // Altering a column: PostgreSQL's message doesn't always say which one (a failed cast names only the value).
  const text = (e.message ?? 'the change was refused').replace(/"?t_[a-z0-9]{12}"?\./g, '');
  const message = label && !text.includes(`"${label.column}"`) ? `column "${label.column}": ${text}` : text;
  const refused = (prefix: string, make: typeof PlinthException.conflict) => {
    const full = `${prefix}: ${message}`;
    return make(full, label ? [{ path: label.path, message: full }] : undefined);
  };
  if (e.code === '42P07' || e.code === '42710') return refused('Name already in use', PlinthException.conflict);
  if (e.code === '2BP01') return refused('Something depends on it', PlinthException.conflict);
  if (e.code.startsWith('23')) return refused("Existing rows don't allow this change", PlinthException.conflict);
  // 42846: no cast between the two types (uuid → int4); 42883: no operator the change needs (a unique without
  // equality); 0A000: what PostgreSQL can't alter (a column another object depends on).
  if (e.code.startsWith('22') || ['42804', '42830', '42846', '42883', '0A000'].includes(e.code)) return refused('Invalid definition', PlinthException.badRequest);
  return err;
}

/**
 * The table catalog: declare, change and drop tables of a project, and set their rules. Each change is one
 * transaction: the DDL (as the project's owner role, with exact grants to the data role), the catalog row, the audit
 * entry and the cache invalidation commit or roll back together.
 */
@Injectable()
export class TablesService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectRepository(DataTableEntity) private readonly repo: Repository<DataTableEntity>,
    private readonly projects: ProjectsService,
    private readonly plans: PlansService,
    private readonly audit: AuditService,
    private readonly catalog: DataCatalog,
    private readonly hooks: TableHooks,
  ) {}

  async list(admin: TableAdmin, ref: string): Promise<TableView[]> {
    const project = await this.project(admin, ref, 'read');
    const rows = await this.repo.find({ where: { projectId: project.id }, order: { createdAt: 'ASC' } });
    return rows.map(view);
  }

  async get(admin: TableAdmin, ref: string, name: string): Promise<TableView> {
    const project = await this.project(admin, ref, 'read');
    const row = await this.repo.findOne({ where: { projectId: project.id, name } });
    if (!row) throw PlinthException.notFound('Table');
    return view(row);
  }

  async create(admin: TableAdmin, ref: string, input: CreateTableInput): Promise<TableView> {
    const project = await this.project(admin, ref, 'update');
    const limits = await this.limits(project);
    const def = tableDefinition(input);
    return this.change(admin, project, 'data_table.create', def.name, async (m, rows) => {
      if (rows.has(def.name)) throw PlinthException.conflict(`Table "${def.name}" already exists`);
      if (rows.size >= limits.tables) throw PlinthException.conflict(`This project may have at most ${limits.tables} tables on its plan`);
      const problems = validateTable(def, { tables: definitions(rows), maxColumns: limits.columns });
      if (problems.length) throw invalid(problems);
      await this.ddl(m, project, createTableSql(target(project), def));
      await this.hooks.created(m, { projectId: project.id, ref: project.ref, schema: project.schemaName, ownerRole: project.ownerRole, table: def.name });
      const saved = await m.save(m.create(DataTableEntity, { projectId: project.id, name: def.name, definition: def, rules: [] }));
      return { row: saved, details: { columns: def.columns.length } };
    });
  }

  async patch(admin: TableAdmin, ref: string, name: string, input: PatchTableInput): Promise<TableView> {
    const project = await this.project(admin, ref, 'update');
    const limits = await this.limits(project);
    return this.change(admin, project, 'data_table.update', name, async (m, rows) => {
      const row = rows.get(name);
      if (!row) throw PlinthException.notFound('Table');
      const t = target(project);
      const def: TableDefinition = structuredClone(row.definition);
      let rules = row.rules;
      const sql: string[] = [];
      const problems: Problems = [];
      const others = [...rows.values()].filter((r) => r.name !== name);

      for (const idx of input.drop_indexes ?? []) {
        if (!def.indexes.some((i) => i.name === idx)) problems.push({ path: 'drop_indexes', message: `no index "${idx}" on this table` });
        def.indexes = def.indexes.filter((i) => i.name !== idx);
        sql.push(dropIndexSql(t, idx));
      }
      for (const col of input.drop_columns ?? []) {
        const c = def.columns.find((x) => x.name === col);
        if (!c) problems.push({ path: 'drop_columns', message: `no column "${col}"` });
        else if (c.primary_key) problems.push({ path: 'drop_columns', message: `"${col}" is part of the primary key` });
        else if (rulesMention(rules, col)) problems.push({ path: 'drop_columns', message: `"${col}" is used by a rule; change the rules first` });
        else if (others.some((o) => o.definition.columns.some((oc) => oc.references?.table === name && oc.references.column === col))) {
          throw PlinthException.conflict(`Column "${col}" is referenced by another table`);
        }
        def.columns = def.columns.filter((x) => x.name !== col);
        // PostgreSQL drops indexes over a dropped column; keep the definition in step.
        def.indexes = def.indexes.filter((i) => !i.columns.includes(col));
        sql.push(dropColumnSql(t, name, col));
      }
      for (const { from, to } of input.rename_columns ?? []) {
        const c = def.columns.find((x) => x.name === from);
        if (!c) {
          problems.push({ path: 'rename_columns', message: `no column "${from}"` });
          continue;
        }
        c.name = to;
        for (const i of def.indexes) i.columns = i.columns.map((x) => (x === from ? to : x));
        for (const x of def.columns) if (x.references?.table === name && x.references.column === from) x.references.column = to;
        // PostgreSQL's generated expression follows the rename by itself; the definition keeps step.
        for (const x of def.columns) if (x.generated) x.generated.from = x.generated.from.map((f) => (f === from ? to : f));
        rules = renameInRules(rules, from, to);
        sql.push(renameColumnSql(t, name, from, to));
      }
      // After renames, so a column is altered under the name it has at that point.
      const altered = alterColumns(def, input.alter_columns ?? [], (col) =>
        others.filter((o) => o.definition.columns.some((oc) => oc.references?.table === name && oc.references.column === col)).map((o) => `"${o.name}"`),
      );
      problems.push(...altered.problems);
      // Statement → the column it alters, so PostgreSQL's refusal (from the existing rows) names the column.
      const labels = new Map<string, DdlLabel>();
      for (const a of altered.alterations) {
        for (const s of alterColumnSql(t, name, a.before, a.after)) {
          labels.set(s.sql, { column: a.after.name, path: `alter_columns.${a.index}.${s.field}` });
          sql.push(s.sql);
        }
      }
      for (const input_ of input.add_columns ?? []) {
        const col = columnDefinition(name, input_);
        if (col.primary_key) problems.push({ path: 'add_columns', message: 'the primary key is set when the table is created' });
        def.columns.push(col);
        sql.push(...addColumnSql(t, name, col));
      }
      for (const i of input.add_indexes ?? []) {
        const idx = indexDefinition(name, i);
        def.indexes.push(idx);
        sql.push(indexSql(t, name, idx));
      }
      problems.push(...alterationPaths(def, altered.alterations, validateTable(def, { tables: definitions(rows), maxColumns: limits.columns })));
      if (problems.length) throw invalid(problems);
      await this.ddl(m, project, sql, labels);
      // Other tables' references follow a renamed column.
      for (const o of others) {
        let changed = false;
        for (const oc of o.definition.columns) {
          for (const { from, to } of input.rename_columns ?? []) {
            if (oc.references?.table === name && oc.references.column === from) {
              oc.references.column = to;
              changed = true;
            }
          }
        }
        if (changed) await saveRow(m, o.id, o.definition, o.rules);
      }
      await saveRow(m, row.id, def, rules);
      return { row: { ...row, definition: def, rules, updatedAt: new Date() }, details: input as Record<string, unknown> };
    });
  }

  async remove(admin: TableAdmin, ref: string, name: string): Promise<void> {
    const project = await this.project(admin, ref, 'update');
    await this.change(admin, project, 'data_table.delete', name, async (m, rows) => {
      const row = rows.get(name);
      if (!row) throw PlinthException.notFound('Table');
      const referencing = [...rows.values()].filter((r) => r.name !== name && r.definition.columns.some((c) => c.references?.table === name));
      if (referencing.length) throw PlinthException.conflict(`Table "${name}" is referenced by ${referencing.map((r) => `"${r.name}"`).join(', ')}`);
      await this.ddl(m, project, [dropTableSql(target(project), name)]);
      await m.delete(DataTableEntity, { id: row.id });
      return { row, details: {} };
    });
  }

  async putRules(admin: TableAdmin, ref: string, name: string, input: RuleInput[]): Promise<TableView> {
    const project = await this.project(admin, ref, 'update');
    const rules = normaliseRules(input);
    return this.change(admin, project, 'data_table.rules', name, async (m, rows) => {
      const row = rows.get(name);
      if (!row) throw PlinthException.notFound('Table');
      const problems = validateRules(rules, row.definition);
      if (problems.length) throw invalid(problems);
      await saveRow(m, row.id, row.definition, rules);
      return { row: { ...row, rules, updatedAt: new Date() }, details: { rules: rules.length } };
    });
  }

  /** The project's data settings (defaults when never changed). */
  async settings(admin: TableAdmin, ref: string): Promise<ReturnType<typeof dataSettingsView>> {
    const project = await this.project(admin, ref, 'read');
    const row = await this.repo.manager.findOne(DataSettingsEntity, { where: { projectId: project.id } });
    return dataSettingsView(row ?? DEFAULT_DATA_SETTINGS);
  }

  /** Changes the data settings: upserted, audited and published to every instance's catalog cache in one transaction. */
  async patchSettings(admin: TableAdmin, ref: string, input: PatchDataSettingsInput): Promise<ReturnType<typeof dataSettingsView>> {
    const project = await this.project(admin, ref, 'update');
    const saved = await this.repo.manager.transaction(async (m) => {
      const current = (await m.findOne(DataSettingsEntity, { where: { projectId: project.id } })) ?? DEFAULT_DATA_SETTINGS;
      const next = { txEnd: input.tx_end ?? current.txEnd, aggregates: input.aggregates ?? current.aggregates };
      await m.query(
        `INSERT INTO control.data_settings (project_id, tx_end, aggregates) VALUES ($1, $2, $3)
         ON CONFLICT (project_id) DO UPDATE SET tx_end = EXCLUDED.tx_end, aggregates = EXCLUDED.aggregates, updated_at = now()`,
        [project.id, next.txEnd, next.aggregates],
      );
      const actor = admin.kind === 'key' ? admin.actor : admin.principal.actor;
      await this.audit.record(m, actor, { orgId: project.orgId, action: 'data_settings.update', targetType: 'project', targetId: project.ref, details: dataSettingsView(next) });
      await this.catalog.publish(m, project.id);
      return next;
    });
    this.catalog.invalidate(project.id);
    return dataSettingsView(saved);
  }

  /** The project, after checking the caller may `action` it: org role for console users, same project for keys. */
  private async project(admin: TableAdmin, ref: string, action: 'read' | 'update'): Promise<ProjectEntity> {
    const project = await this.projects.findActive(ref);
    if (!project) throw PlinthException.notFound('Project');
    if (admin.kind === 'key') {
      if (admin.projectId !== project.id) throw PlinthException.notFound('Project');
    } else {
      admin.principal.permissions.assert(action, 'Project', project.orgId, 'Project');
    }
    return project;
  }

  /** The plan's catalog limits (the lower of the current and a scheduled plan's while a downgrade is pending). */
  private async limits(project: ProjectEntity): Promise<{ tables: number; columns: number }> {
    const limits = await this.plans.structuralLimits(project.orgId).catch(() => null);
    return {
      tables: limits?.tables_per_project ?? this.config.data.maxTablesPerProject,
      columns: limits?.columns_per_table ?? this.config.data.maxColumnsPerTable,
    };
  }

  /**
   * One catalog change: serialised per project (advisory lock), with the project's declared tables loaded inside
   * the transaction, then audited and published for cache invalidation in the same transaction.
   */
  private async change(
    admin: TableAdmin,
    project: ProjectEntity,
    action: string,
    table: string,
    fn: (m: EntityManager, rows: Map<string, DataTableEntity>) => Promise<{ row: DataTableEntity; details: Record<string, unknown> }>,
  ): Promise<TableView> {
    const result = await this.repo.manager.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`data_catalog:${project.id}`]);
      const rows = new Map((await m.find(DataTableEntity, { where: { projectId: project.id } })).map((r) => [r.name, r]));
      const out = await fn(m, rows);
      const actor = admin.kind === 'key' ? admin.actor : admin.principal.actor;
      await this.audit.record(m, actor, { orgId: project.orgId, action, targetType: 'data_table', targetId: `${project.ref}.${table}`, details: out.details });
      await this.catalog.publish(m, project.id);
      return out.row;
    });
    this.catalog.invalidate(project.id);
    return view(result);
  }

  /** Runs DDL as the project's owner role (so the owner owns every table), then returns to the control role. */
  private async ddl(m: EntityManager, project: ProjectEntity, statements: string[], labels?: ReadonlyMap<string, DdlLabel>): Promise<void> {
    // On the project's cluster: `m` itself on the default one.
    await this.projects.ddl(m, project, async (sql) => {
      await sql.query(`SET LOCAL ROLE ${quoteIdent(project.ownerRole)}`);
      let current = '';
      try {
        for (const s of statements) {
          current = s;
          await sql.query(s);
        }
      } catch (err) {
        throw ddlError(err, labels?.get(current));
      }
      await sql.query('SET LOCAL ROLE NONE');
    });
  }
}

/** Both jsonb columns as JSON text: node-postgres would send a JS array as a PostgreSQL array. */
async function saveRow(m: EntityManager, id: string, definition: TableDefinition, rules: StoredRule[]): Promise<void> {
  await m.query('UPDATE control.data_tables SET definition = $2::jsonb, rules = $3::jsonb, updated_at = now() WHERE id = $1', [
    id,
    JSON.stringify(definition),
    JSON.stringify(rules),
  ]);
}

function target(p: ProjectEntity): DdlTarget {
  return { schema: p.schemaName, dataRole: p.dataRole };
}

function definitions(rows: Map<string, DataTableEntity>): Map<string, TableDefinition> {
  return new Map([...rows].map(([k, r]) => [k, r.definition]));
}

function view(row: DataTableEntity): TableView {
  const def = row.definition;
  return {
    name: def.name,
    columns: def.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      ...(c.default ? { default: defaultView(c.default) } : {}),
      primary_key: c.primary_key,
      unique: c.unique,
      ...(c.references ? { references: { table: c.references.table, column: c.references.column, on_delete: c.references.on_delete } } : {}),
      ...(c.values ? { values: c.values } : {}),
      ...(c.generated ? { generated: c.generated } : {}),
    })),
    indexes: def.indexes,
    primary_key: primaryKeyOf(def),
    rules: row.rules,
    created_at: new Date(row.createdAt).toISOString(),
    updated_at: new Date(row.updatedAt).toISOString(),
  };
}
