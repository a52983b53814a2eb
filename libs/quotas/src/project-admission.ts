import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { PlinthException } from '@plinth/common';
import { ProjectsRepository, ProvisioningHooks } from '@plinth/tenancy';
import { PlansRepository } from './plans.repository';

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
    private readonly plans: PlansRepository,
  ) {}

  onModuleInit(): void {
    this.hooks.registerAdmission('quotas.projects_per_org', (m, orgId) => this.check(m, orgId));
  }

  async check(m: EntityManager, orgId: string): Promise<void> {
    const row = await this.plans.projectsPerOrg(m, orgId);
    if (!row || row.max === null) return;
    if ((await this.projects.countActiveInOrg(m, orgId)) < row.max) return;
    throw PlinthException.conflict(
      `The ${row.name} plan allows ${row.max} project${row.max === 1 ? '' : 's'} per organization; delete a project or upgrade the plan`,
      { limit: 'projects_per_org', max: row.max, plan: row.plan },
    );
  }
}
