import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { baseMeter, UsageRepository } from '@plinth/metering';
import { ProjectsRepository, ProjectSummary } from '@plinth/tenancy';
import type { InvoiceLine } from './billing-account.repository';
import { allocate, hoursOfPeriod, meterAmount, PriceVersion } from './price-book';

/** One meter's usage over a period: the org total and each project's part. */
export interface MeterUsage {
  meter: string;
  quantity: number;
  byProject: Map<string, number>;
}

/**
 * The usage ledger as billing reads it: an org's usage per meter and project over a billing period, or per hour
 * for reporting, and the usage lines of an invoice priced by a price-book version. Read-only over metering's
 * tables and tenancy's projects (through their repositories).
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly projects: ProjectsRepository,
    private readonly usage: UsageRepository,
  ) {}

  /** Every project the org has had, deleted ones included (their usage in the period is still billed). */
  async projectsOf(orgId: string): Promise<ProjectSummary[]> {
    return this.projects.listInOrg(orgId);
  }

  /** The org's projects that aren't deleted, oldest first, read in the caller's transaction. */
  async activeProjectsOf(m: EntityManager, orgId: string): Promise<ProjectSummary[]> {
    return this.projects.listActiveInOrg(m, orgId);
  }

  /** Usage of `meters` in the billing period [start, end), attributed by hour like the reports to Stripe. */
  async periodUsage(orgId: string, meters: string[], start: Date, end: Date): Promise<{ projects: ProjectSummary[]; usage: Map<string, MeterUsage> }> {
    const projects = await this.projectsOf(orgId);
    const usage = new Map<string, MeterUsage>(meters.map((m) => [m, { meter: m, quantity: 0, byProject: new Map() }]));
    if (!projects.length) return { projects, usage };
    const { from, to } = hoursOfPeriod(start, end);
    if (from >= to) return { projects, usage };
    for (const r of await this.usage.totals(projects.map((p) => p.id), from, to)) {
      const u = usage.get(r.meter);
      if (!u) continue;
      const q = Number(r.quantity);
      u.quantity += q;
      u.byProject.set(r.project_id, (u.byProject.get(r.project_id) ?? 0) + q);
    }
    return { projects, usage };
  }

  /** Org usage per hour and meter over whole hours [from, to) (usage_hour below the roll-up watermark, minutes above). */
  async hourlyUsage(orgId: string, meters: string[], from: Date, to: Date): Promise<Map<number, Map<string, number>>> {
    const out = new Map<number, Map<string, number>>();
    const projects = await this.projectsOf(orgId);
    if (!projects.length || from >= to) return out;
    const wanted = new Set(meters);
    for (const s of await this.usage.series(projects.map((p) => p.id), from, to, 'hour')) {
      const meter = baseMeter(s.meter);
      if (!wanted.has(meter)) continue;
      const hour = new Date(s.bucket).getTime();
      const row = out.get(hour) ?? new Map<string, number>();
      row.set(meter, (row.get(meter) ?? 0) + Number(s.quantity));
      out.set(hour, row);
    }
    return out;
  }

  /** Usage lines of a period under a price version: one per meter, its amount split over projects by usage. */
  async usageLines(orgId: string, version: PriceVersion, start: Date, end: Date): Promise<InvoiceLine[]> {
    const meters = Object.keys(version.meters).sort();
    const { projects, usage } = await this.periodUsage(orgId, meters, start, end);
    const refs = new Map(projects.map((p) => [p.id, p.ref]));
    const period = { start: start.toISOString(), end: end.toISOString() };
    return meters.map((meter) => {
      const u = usage.get(meter)!;
      const price = version.meters[meter];
      const amount = meterAmount(price, u.quantity);
      const shares = allocate(amount, [...u.byProject].sort(([a], [b]) => a.localeCompare(b)));
      return {
        kind: 'usage' as const,
        description: `${meter}: ${u.quantity} used, ${price.included} included`,
        meter,
        quantity: u.quantity,
        included: price.included,
        amount_minor: amount,
        period,
        projects: [...u.byProject].map(([id, q]) => ({ project_id: id, ref: refs.get(id) ?? id, quantity: q, amount_minor: shares.get(id) ?? 0 })),
      };
    });
  }
}
