import { Injectable } from '@nestjs/common';
import { PlinthException } from '@plinth/common';
import type { Principal } from '@plinth/identity';
import { Clock } from '@plinth/common';
import { BASE_METERS, baseMeter, GAUGE_METERS, periodEnd, periodStart, UsageRepository } from '@plinth/metering';
import { ProjectsService } from '@plinth/tenancy';
import { overageCents, Plan } from './plan';
import { PlansService } from './plans.service';
import { ProjectLimits, ProjectLimitsRepository } from './project-limits.repository';
import { MAX_RANGE_MS, UsageQuery } from './usage.dto';

export interface MeterTotal {
  used: number;
  included: number | null;
  remaining: number | null;
  cap: number | null;
}

/** Usage as customers see it: per project and per org, with the plan's included amounts and what is left. */
@Injectable()
export class UsageService {
  constructor(
    private readonly repo: UsageRepository,
    private readonly projects: ProjectsService,
    private readonly plans: PlansService,
    private readonly limits: ProjectLimitsRepository,
    private readonly clock: Clock,
  ) {}

  async projectUsage(p: Principal, ref: string, q: UsageQuery) {
    const project = await this.projects.get(p, ref);
    const range = this.range(q);
    const plan = await this.plans.forOrg(project.org_id);
    const limits = await this.limits.get(project.id);
    const [totals, series] = await Promise.all([
      this.totals([project.id], range.periodStart, range.periodEnd),
      this.repo.series([project.id], range.from, range.to, q.granularity, q.meter),
    ]);
    const used = totals.get(project.id) ?? new Map<string, number>();
    return {
      project: { id: project.id, ref: project.ref },
      plan: { id: plan.id, name: plan.name },
      period: { start: range.periodStart.toISOString(), end: range.periodEnd.toISOString() },
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      granularity: q.granularity,
      meters: this.meterTotals(plan, limits, used, q.meter),
      spend: plan.hard_caps ? null : { overage_cents: Math.round(overageCents(plan, used) * 100) / 100, cap_cents: limits.spend_cap_cents },
      series: series.map((s) => ({ t: new Date(s.bucket).toISOString(), meter: s.meter, quantity: Number(s.quantity) })),
    };
  }

  async orgUsage(p: Principal, orgId: string, q: UsageQuery) {
    p.permissions.assert('read', 'Org', orgId, 'Organization');
    const projects = await this.projects.list(p, orgId);
    const range = this.range(q);
    const plan = await this.plans.forOrg(orgId);
    const totals = await this.totals(
      projects.map((x) => x.id),
      range.periodStart,
      range.periodEnd,
    );
    const sum = new Map<string, number>();
    for (const m of totals.values()) for (const [k, v] of m) sum.set(k, (sum.get(k) ?? 0) + v);
    return {
      org_id: orgId,
      plan: { id: plan.id, name: plan.name },
      period: { start: range.periodStart.toISOString(), end: range.periodEnd.toISOString() },
      totals: this.meterTotals(plan, null, sum, q.meter),
      projects: projects.map((x) => ({
        id: x.id,
        ref: x.ref,
        name: x.name,
        meters: Object.fromEntries(
          [...(totals.get(x.id) ?? new Map<string, number>())].filter(([k]) => !q.meter || k === baseMeter(q.meter)),
        ),
      })),
    };
  }

  /** Counters for the period plus the latest gauge samples, per project and base meter. */
  private async totals(projectIds: string[], from: Date, to: Date): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>(projectIds.map((id) => [id, new Map()]));
    if (!projectIds.length) return out;
    const [counters, samples] = await Promise.all([this.repo.totals(projectIds, from, to), this.repo.latestSamples(projectIds)]);
    for (const r of counters) out.get(r.project_id)?.set(r.meter, Number(r.quantity));
    for (const s of samples) out.get(s.project_id)?.set(s.meter, Number(s.value));
    return out;
  }

  private meterTotals(plan: Plan, limits: ProjectLimits | null, used: ReadonlyMap<string, number>, meter?: string): Record<string, MeterTotal> {
    const wanted = meter ? [baseMeter(meter)] : BASE_METERS;
    return Object.fromEntries(
      wanted.map((m) => {
        const u = used.get(m) ?? 0;
        const included = plan.included[m] ?? null;
        return [
          m,
          {
            used: u,
            included,
            remaining: included === null ? null : Math.max(0, included - u),
            cap: limits?.meter_caps[m] ?? null,
            ...((GAUGE_METERS as readonly string[]).includes(m) ? { sampled: true } : {}),
          },
        ];
      }),
    );
  }

  private range(q: UsageQuery) {
    const now = this.clock.nowMs();
    const ps = periodStart(now);
    const to = q.to ? new Date(q.to) : new Date(now);
    const from = q.from ? new Date(q.from) : q.granularity === 'minute' ? new Date(to.getTime() - 3600_000) : ps;
    if (from >= to) throw PlinthException.badRequest('`from` must be before `to`');
    if (to.getTime() - from.getTime() > MAX_RANGE_MS[q.granularity]) {
      throw PlinthException.badRequest(`The range is too long for granularity=${q.granularity} (at most ${MAX_RANGE_MS[q.granularity] / 3600_000} hours)`);
    }
    return { from, to, periodStart: ps, periodEnd: periodEnd(now) };
  }
}
