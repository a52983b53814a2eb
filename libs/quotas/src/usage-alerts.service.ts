import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { MeteringService, periodStart } from '@plinth/metering';
import { ProjectsRepository } from '@plinth/tenancy';
import { overageCents } from './plan';
import { PlansService } from './plans.service';
import { ProjectLimitsRepository } from './project-limits.repository';
import { USAGE_ALERT_JOB, UsageAlertData } from './usage-alert.job';
import { UsageAlertsRepository } from './usage-alerts.repository';

export const ALERT_THRESHOLDS = [50, 80, 100] as const;

interface Crossing {
  meter: string;
  kind: UsageAlertData['kind'];
  threshold: number;
  used: number;
  amount: number;
}

/**
 * After each usage flush, checks the touched projects against 50/80/100 % of their included amounts, meter caps
 * and spend cap. Each crossing is recorded once per period (primary key) and its notification is written to the
 * outbox in the same transaction.
 */
@Injectable()
export class UsageAlertsService implements OnModuleInit {
  private readonly logger = new Logger(UsageAlertsService.name);
  /** Crossings already recorded, so the common case costs no query. */
  private readonly seen = new Set<string>();
  private readonly projects = new Map<string, { orgId: string; ref: string }>();

  constructor(
    private readonly tx: ControlTransactions,
    private readonly alerts: UsageAlertsRepository,
    private readonly metering: MeteringService,
    private readonly plans: PlansService,
    private readonly limits: ProjectLimitsRepository,
    private readonly projectRows: ProjectsRepository,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.metering.onFlush((ids) => this.evaluate([...ids]).catch((e: Error) => this.logger.warn(`usage alerts: ${e.message}`)));
  }

  /** Records new crossings for these projects; returns how many were new. */
  async evaluate(projectIds: string[]): Promise<number> {
    const missing = projectIds.filter((id) => !this.projects.has(id));
    if (missing.length) {
      const rows = await this.projectRows.refsByIds(missing);
      if (this.projects.size > 50_000) this.projects.clear();
      for (const r of rows) this.projects.set(r.id, { orgId: r.orgId, ref: r.ref });
    }
    let created = 0;
    const period = periodStart(this.clock.nowMs());
    for (const id of projectIds) {
      const project = this.projects.get(id);
      if (!project) continue;
      const crossings = await this.crossings(id, project.orgId);
      const fresh = crossings.filter((c) => !this.seen.has(seenKey(id, period, c)));
      if (!fresh.length) continue;
      created += await this.tx.run(async (m) => {
        let n = 0;
        for (const c of fresh) {
          const key = { projectId: id, periodStart: period, meter: c.meter, kind: c.kind, threshold: c.threshold };
          if (await this.alerts.record(m, key, c.used, c.amount, this.clock.now())) {
            n++;
            await this.outbox.enqueue<UsageAlertData>(m, {
              queue: QUEUES.notifications,
              name: USAGE_ALERT_JOB,
              data: { orgId: project.orgId, projectId: id, projectRef: project.ref, periodStart: period.toISOString(), ...c },
              dedupeKey: `${id}:${period.toISOString()}:${c.meter}:${c.kind}:${c.threshold}`,
            });
          }
        }
        return n;
      });
      for (const c of fresh) this.seen.add(seenKey(id, period, c));
      if (this.seen.size > 200_000) this.seen.clear();
    }
    return created;
  }

  private async crossings(projectId: string, orgId: string): Promise<Crossing[]> {
    const [plan, limits, used] = await Promise.all([this.plans.forOrg(orgId), this.limits.get(projectId), this.metering.periodTotals(projectId)]);
    const out: Crossing[] = [];
    const check = (meter: string, kind: Crossing['kind'], amount: number, value: number) => {
      if (!(amount > 0)) return;
      for (const t of ALERT_THRESHOLDS) if (value >= (amount * t) / 100) out.push({ meter, kind, threshold: t, used: value, amount });
    };
    for (const [meter, amount] of Object.entries(plan.included)) check(meter, 'included', amount, used.get(meter) ?? 0);
    for (const [meter, cap] of Object.entries(limits.meter_caps)) check(meter, 'cap', cap, used.get(meter) ?? 0);
    if (limits.spend_cap_cents !== null && !plan.hard_caps) check('spend_cents', 'spend', limits.spend_cap_cents, overageCents(plan, used));
    return out;
  }
}

function seenKey(projectId: string, period: Date, c: Crossing): string {
  return `${projectId}|${period.getTime()}|${c.meter}|${c.kind}|${c.threshold}`;
}
