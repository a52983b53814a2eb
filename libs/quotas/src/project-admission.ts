import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { PlinthException } from '@plinth/common';
import { ProjectsRepository, ProvisioningHooks } from '@plinth/tenancy';
import { DEFAULT_PLAN_ID } from './plan';

/**
 * Holds an org to its plan's `projects_per_org` when a project is created. Runs in the creating transaction
 * with the org row locked, and reads the plan there (not from the plan cache), so an upgrade on another
 * instance counts at once and two concurrent creates can't both take the last slot.
 */
@Injectable()
export class ProjectAdmission implements OnModuleInit {
  constructor(
    private readonly hooks: ProvisioningHooks,
    private readonly projects: ProjectsRepository,
  ) {}

  onModuleInit(): void {
    this.hooks.registerAdmission('quotas.projects_per_org', (m, orgId) => this.check(m, orgId));
  }

  async check(m: EntityManager, orgId: string): Promise<void> {
    const [row] = (await m.query(
      `SELECT pl.id AS plan, pl.name, (pl.limits->>'projects_per_org')::int AS max
         FROM control.plans pl
        WHERE pl.id = COALESCE((SELECT plan_id FROM control.org_plans WHERE org_id = $1), $2)`,
      [orgId, DEFAULT_PLAN_ID],
    )) as Array<{ plan: string; name: string; max: number | null }>;
    if (!row || row.max === null) return;
    if ((await this.projects.countActiveInOrg(m, orgId)) < row.max) return;
    throw PlinthException.conflict(
      `The ${row.name} plan allows ${row.max} project${row.max === 1 ? '' : 's'} per organization; delete a project or upgrade the plan`,
      { limit: 'projects_per_org', max: row.max, plan: row.plan },
    );
  }
}
