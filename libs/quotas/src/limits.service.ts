import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '@plinth/audit';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { nonPublicHostReason, PlinthException } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import type { Principal } from '@plinth/identity';
import { Clock } from '@plinth/common';
import { ProjectsService } from '@plinth/tenancy';
import { ruleRate } from './plan';
import { PlansService } from './plans.service';
import { ProjectLimits, ProjectLimitsRepository } from './project-limits.repository';
import type { LimitsInput } from './usage.dto';

/** Reading and changing a project's limits (billing rights), within what its plan allows. */
@Injectable()
export class LimitsService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tx: ControlTransactions,
    private readonly projects: ProjectsService,
    private readonly plans: PlansService,
    private readonly repo: ProjectLimitsRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  async get(p: Principal, ref: string) {
    const project = await this.projects.get(p, ref);
    const plan = await this.plans.forOrg(project.org_id);
    return this.view(plan.id, plan.rate_limits.project, await this.repo.get(project.id));
  }

  async put(p: Principal, ref: string, input: LimitsInput) {
    const project = await this.projects.get(p, ref);
    p.permissions.assert('update', 'Billing', project.org_id, 'Project');
    const plan = await this.plans.forOrg(project.org_id);
    if (plan.hard_caps && input.spend_cap_cents !== null) {
      throw PlinthException.badRequest(`The ${plan.name} plan has hard caps; spend caps apply to paid plans`);
    }
    const ceiling = plan.rate_limits.project;
    if (input.rate_limit && (input.rate_limit.limit > ceiling.limit || ruleRate(input.rate_limit) > ruleRate(ceiling))) {
      throw PlinthException.badRequest(
        `rate_limit exceeds the ${plan.name} plan's ceiling of ${ceiling.limit} requests per ${ceiling.window_s} s`,
      );
    }
    if (input.alert_webhook_url && this.config.env === 'production' && !input.alert_webhook_url.startsWith('https://')) {
      throw PlinthException.badRequest('alert_webhook_url must be an https:// URL');
    }
    // Plainly internal hosts are refused when saved; names are checked again at every delivery (postJson).
    const refused = input.alert_webhook_url && !this.config.outbound.allowPrivate ? nonPublicHostReason(new URL(input.alert_webhook_url).hostname) : null;
    if (refused) throw PlinthException.badRequest(`alert_webhook_url: ${refused}; webhooks must reach a public address`);
    const limits: ProjectLimits = {
      spend_cap_cents: input.spend_cap_cents,
      meter_caps: Object.fromEntries(Object.entries(input.meter_caps).filter(([, v]) => v !== undefined)) as Record<string, number>,
      rate_limit: input.rate_limit,
      alert_webhook_url: input.alert_webhook_url,
    };
    await this.tx.run(async (m) => {
      await this.repo.put(m, project.id, limits, p.userId, this.clock.now());
      await this.audit.record(m, p.actor, {
        orgId: project.org_id,
        action: 'project.limits.update',
        targetType: 'project',
        targetId: ref,
        details: { ...limits, alert_webhook_url: limits.alert_webhook_url ? '(set)' : null },
      });
    });
    return this.view(plan.id, ceiling, limits);
  }

  private view(planId: string, ceiling: { limit: number; window_s: number }, l: ProjectLimits) {
    return {
      plan: planId,
      spend_cap_cents: l.spend_cap_cents,
      meter_caps: l.meter_caps,
      rate_limit: l.rate_limit,
      rate_limit_ceiling: ceiling,
      alert_webhook_url: l.alert_webhook_url,
    };
  }
}
