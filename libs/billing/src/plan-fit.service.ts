import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Plan, PlansService } from '@plinth/quotas';
import { ProjectsRepository, ProjectStructure, ProjectSummary, ProjectTable, ProvisioningHooks } from '@plinth/tenancy';
import { BillingAccountRepository } from './billing-account.repository';

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
 * changed meanwhile) is recorded. Reads projects through tenancy and their declared tables through
 * {@link ProjectStructure} (the data runtime registers there), in the caller's transaction.
 */
@Injectable()
export class PlanFitService implements OnModuleInit {
  private readonly logger = new Logger(PlanFitService.name);

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly accounts: BillingAccountRepository,
    private readonly plans: PlansService,
    private readonly hooks: ProvisioningHooks,
    private readonly projects: ProjectsRepository,
    private readonly structure: ProjectStructure,
    private readonly audit: AuditService,
  ) {}

  onModuleInit(): void {
    this.hooks.registerAdmission('billing.pending_downgrade', (m, orgId) => this.admitProject(m, orgId));
    // Tables and columns are held to the lower plan through the plans' structural limits.
    this.plans.registerPendingPlan(async (orgId) => (await this.accounts.get(orgId))?.pending_plan_id ?? null);
  }

  /** What the org has over `plan`'s structural limits (empty when it fits). */
  async excess(m: EntityManager, orgId: string, plan: Plan): Promise<PlanExcess[]> {
    const out: PlanExcess[] = [];
    const maxProjects = plan.limits['projects_per_org'];
    const maxTables = plan.limits['tables_per_project'] ?? this.config.data.maxTablesPerProject;
    const maxColumns = plan.limits['columns_per_table'] ?? this.config.data.maxColumnsPerTable;
    const projects = await this.projects.listActiveInOrg(m, orgId);
    if (maxProjects !== undefined && projects.length > maxProjects) out.push({ limit: 'projects_per_org', max: maxProjects, current: projects.length });
    out.push(...structureExcess(projects, await this.structure.tables(m, projects.map((p) => p.id)), maxTables, maxColumns));
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
    const account = await this.accounts.get(orgId, m);
    if (!account?.pending_plan_id) return;
    const pending = await this.plans.get(account.pending_plan_id);
    const max = pending.limits['projects_per_org'];
    if (max === undefined) return;
    if ((await this.projects.countActiveInOrg(m, orgId)) < max) return;
    throw PlinthException.conflict(
      `A downgrade to the ${pending.name} plan is scheduled, which allows ${max} project${max === 1 ? '' : 's'} per organization; delete a project or cancel the downgrade`,
      { limit: 'projects_per_org', max, plan: pending.id, pending_downgrade: true, effective_at: account.period_end?.toISOString() ?? null },
    );
  }
}

/**
 * Projects with more declared tables than `maxTables` (by ref), then tables with more than `maxColumns` columns (by
 * ref and name). Tables of projects not in `projects` (deleted ones) don't count.
 */
export function structureExcess(projects: ProjectSummary[], tables: ProjectTable[], maxTables: number, maxColumns: number): PlanExcess[] {
  const refs = new Map(projects.map((p) => [p.id, p.ref]));
  const live = tables.flatMap((t) => {
    const ref = refs.get(t.projectId);
    return ref === undefined ? [] : [{ ref, name: t.name, columns: t.columns }];
  });
  const perProject = new Map<string, number>();
  for (const t of live) perProject.set(t.ref, (perProject.get(t.ref) ?? 0) + 1);
  const out: PlanExcess[] = [];
  for (const [ref, n] of [...perProject].sort(([a], [b]) => compare(a, b))) {
    if (n > maxTables) out.push({ limit: 'tables_per_project', max: maxTables, current: n, project: ref });
  }
  const wide = live.filter((t) => t.columns > maxColumns).sort((a, b) => compare(a.ref, b.ref) || compare(a.name, b.name));
  for (const t of wide) out.push({ limit: 'columns_per_table', max: maxColumns, current: t.columns, project: t.ref, table: t.name });
  return out;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `tables_per_project (project abc): 3 of 2`, or a meter's usage, for messages and logs. */
export function describeExcess(e: PlanExcess): string {
  if (e.limit === 'usage') return `project ${e.project} has used ${e.current} ${e.meter} this period, more than the ${e.max} included`;
  const where = e.table ? ` (${e.project}.${e.table})` : e.project ? ` (project ${e.project})` : '';
  return `${e.limit}${where}: ${e.current} of ${e.max}`;
}
