import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { PlansService } from '@plinth/quotas';
import { BillingAccountRepository, InvoiceLine } from './billing-account.repository';
import { LedgerService } from './ledger.service';
import { PlanFitService } from './plan-fit.service';
import { addMonths } from './price-book';
import { PriceBookRepository } from './price-book.repository';

/**
 * Ledger-only renewals, the local twin of Stripe's: at the end of a period, one invoice with each meter's usage
 * (priced by the version in force at the period's start, under the plan held at its end) and the next period's
 * base fee in advance; then a pending downgrade takes effect. One invoice per (org, period), so a rerun is a no-op.
 */
@Injectable()
export class PeriodCloserService {
  private readonly logger = new Logger(PeriodCloserService.name);

  constructor(
    private readonly tx: ControlTransactions,
    private readonly accounts: BillingAccountRepository,
    private readonly ledger: LedgerService,
    private readonly priceBook: PriceBookRepository,
    private readonly plans: PlansService,
    private readonly fit: PlanFitService,
    private readonly clock: Clock,
  ) {}

  /** Closes every ended ledger-only period (catching up several if the job was away). Returns invoices issued. */
  async run(): Promise<number> {
    let issued = 0;
    for (const orgId of await this.accounts.ledgerPeriodsEnded(this.clock.now())) {
      for (let i = 0; i < 24; i++) {
        const closed = await this.closeOne(orgId);
        if (closed === null) break;
        issued += closed ? 1 : 0;
      }
    }
    return issued;
  }

  /** Closes the org's current period if it has ended: true = invoiced, false = nothing to bill, null = not ended. */
  private closeOne(orgId: string): Promise<boolean | null> {
    const now = this.clock.now();
    return this.tx.run(async (m) => {
      const a = await this.accounts.get(orgId, m, true);
      if (!a || a.stripe_subscription_id || !a.period_start || !a.period_end || a.period_end > now) return null;
      const plan = await this.plans.get(a.plan_id);
      const version = await this.priceBook.versionAt(plan.id, a.period_start);
      const lines: InvoiceLine[] = version ? await this.ledger.usageLines(orgId, version, a.period_start, a.period_end) : [];
      const nextPlan = await this.plans.get(a.pending_plan_id ?? a.plan_id);
      const nextStart = a.period_end;
      const nextEnd = addMonths(nextStart, 1);
      if (!nextPlan.hard_caps) {
        const nextVersion = await this.priceBook.versionAt(nextPlan.id, nextStart);
        lines.push({
          kind: 'base',
          description: `${nextPlan.name} base fee`,
          quantity: 1,
          amount_minor: nextVersion?.base_fee_minor ?? 0,
          period: { start: nextStart.toISOString(), end: nextEnd.toISOString() },
        });
      }
      const inserted = await this.accounts.insertLedgerInvoice(m, {
        org_id: orgId,
        number: await this.accounts.nextLedgerNumber(m, orgId),
        reason: 'subscription_cycle',
        status: 'issued',
        currency: a.currency,
        period_start: a.period_start,
        period_end: a.period_end,
        total_minor: lines.reduce((s, l) => s + l.amount_minor, 0),
        plan_id: plan.id,
        price_version: version?.version ?? null,
        lines,
        created_at: now,
      });
      const paid = !nextPlan.hard_caps;
      await this.accounts.update(
        m,
        orgId,
        { plan_id: nextPlan.id, pending_plan_id: null, period_start: paid ? nextStart : null, period_end: paid ? nextEnd : null },
        now,
      );
      if (nextPlan.id !== a.plan_id) {
        await this.plans.setOrgPlan(orgId, nextPlan.id, m);
        await this.fit.recordSwitch(m, orgId, nextPlan);
        this.logger.log(`org ${orgId} moved from ${a.plan_id} to ${nextPlan.id} at the end of its period`);
      }
      return inserted;
    });
  }
}
