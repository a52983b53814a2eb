import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Plan, PlansService } from '@plinth/quotas';
import { ProvisioningHooks } from '@plinth/tenancy';

/** One limit of a plan that an org is over: a structural one, or (`usage`) a hard-capped meter's included amount. */
export interface PlanExcess {
  limit: 'projects_per_org' | 'tables_per_project' | 'columns_per_table' | 'usage';
  max: number;
  current: number;
  /** The project (ref) for per-project limits, and the table for `columns_per_table`. */
  project?: string;
  table?: string;
  /** The meter, for `usage`. */
  meter?: string;
}

/**
 * Whether an org fits a plan's structural limits (projects per org, tables per project, columns per table), for
 * plan changes: a downgrade is refused while the org is over its target's limits; while one is pending, projects
 * are created within the lower of the two plans' limits; and at the switch any excess left (a plan's limits
 * changed meanwhile) is recorded. Reads the tables of tenancy and the data catalog as a count, in the caller's
 * transaction.
 */
@Injectable()
export class PlanFitService implements OnModuleInit {
  private readonly logger = new Logger(PlanFitService.name);

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly plans: PlansService,
    private readonly hooks: ProvisioningHooks,
    private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.hooks.registerAdmission('billing.pending_downgrade', (m, orgId) => this.admitProject(m, orgId));
    // Tables and columns are held to the lower plan through the plans' structural limits.
    this.plans.registerPendingPlan(async (orgId) => {
      const rows = (await this.db.query(`SELECT pending_plan_id FROM control.billing_accounts WHERE org_id = $1`, [orgId])) as Array<{ pending_plan_id: string | null }>;
      return rows[0]?.pending_plan_id ?? null;
    });
  }

  /** What the org has over `plan`'s structural limits (empty when it fits). */
  async excess(m: EntityManager, orgId: string, plan: Plan): Promise<PlanExcess[]> {
    const out: PlanExcess[] = [];
    const maxProjects = plan.limits['projects_per_org'];
    const maxTables = plan.limits['tables_per_project'] ?? this.config.data.maxTablesPerProject;
    const maxColumns = plan.limits['columns_per_table'] ?? this.config.data.maxColumnsPerTable;
    const [{ n }] = (await m.query(`SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL`, [orgId])) as Array<{ n: number }>;
    if (maxProjects !== undefined && n > maxProjects) out.push({ limit: 'projects_per_org', max: maxProjects, current: n });
    const tables = (await m.query(
      `SELECT p.ref, count(*)::int AS n FROM control.data_tables t JOIN control.projects p ON p.id = t.project_id
        WHERE p.org_id = $1 AND p.deleted_at IS NULL GROUP BY p.ref HAVING count(*) > $2 ORDER BY p.ref`,
      [orgId, maxTables],
    )) as Array<{ ref: string; n: number }>;
    for (const t of tables) out.push({ limit: 'tables_per_project', max: maxTables, current: t.n, project: t.ref });
    const wide = (await m.query(
      `SELECT p.ref, t.name, jsonb_array_length(t.definition->'columns') AS n FROM control.data_tables t JOIN control.projects p ON p.id = t.project_id
        WHERE p.org_id = $1 AND p.deleted_at IS NULL AND jsonb_array_length(t.definition->'columns') > $2 ORDER BY p.ref, t.name`,
      [orgId, maxColumns],
    )) as Array<{ ref: string; name: string; n: number }>;
    for (const t of wide) out.push({ limit: 'columns_per_table', max: maxColumns, current: t.n, project: t.ref, table: t.name });
    return out;
  }

  /**
   * At the switch to `plan`: the switch happens whatever is left over (the period is over and, with Stripe, the
   * subscription already changed), nothing is deleted, and what exceeds is recorded in the org's audit log. The
   * usual create-time checks then refuse anything new over the plan's limits until the org is back within them.
   */
  async recordSwitch(m: EntityManager, orgId: string, plan: Plan): Promise<void> {
    const over = await this.excess(m, orgId, plan);
    if (over.length === 0) return;
    this.logger.warn(`org ${orgId} moved to ${plan.id} over its limits: ${over.map(describeExcess).join('; ')}`);
    await this.audit.record(m, { type: 'system', id: null, meta: { ip: null, userAgent: null, requestId: null } }, {
      orgId,
      action: 'billing.plan.over_limits',
      targetType: 'org',
      targetId: orgId,
      details: { plan: plan.id, exceeds: over },
    });
  }

  /**
   * Project-create admission (in the creating transaction, org row locked): while a downgrade is pending, a new
   * project must also fit the scheduled plan, so the org can't grow past it before the switch.
   */
  private async admitProject(m: EntityManager, orgId: string): Promise<void> {
    const rows = (await m.query(`SELECT pending_plan_id, period_end FROM control.billing_accounts WHERE org_id = $1 AND pending_plan_id IS NOT NULL`, [orgId])) as Array<{
      pending_plan_id: string;
      period_end: Date | null;
    }>;
    if (!rows[0]) return;
    const pending = await this.plans.get(rows[0].pending_plan_id);
    const max = pending.limits['projects_per_org'];
    if (max === undefined) return;
    const [{ n }] = (await m.query(`SELECT count(*)::int AS n FROM control.projects WHERE org_id = $1 AND deleted_at IS NULL`, [orgId])) as Array<{ n: number }>;
    if (n < max) return;
    throw PlinthException.conflict(
      `A downgrade to the ${pending.name} plan is scheduled, which allows ${max} project${max === 1 ? '' : 's'} per organization; delete a project or cancel the downgrade`,
      { limit: 'projects_per_org', max, plan: pending.id, pending_downgrade: true, effective_at: rows[0].period_end?.toISOString() ?? null },
    );
  }
}

/** `tables_per_project (project abc): 3 of 2`, or a meter's usage, for messages and logs. */
export function describeExcess(e: PlanExcess): string {
  if (e.limit === 'usage') return `project ${e.project} has used ${e.current} ${e.meter} this period, more than the ${e.max} included`;
  const where = e.table ? ` (${e.project}.${e.table})` : e.project ? ` (project ${e.project})` : '';
  return `${e.limit}${where}: ${e.current} of ${e.max}`;
}
