import { Injectable, Logger } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { BillingAccount, BillingAccountRepository } from './billing-account.repository';
import { REPORT_ALERT_DAYS, STRIPE_METER_WINDOW_DAYS, stripeEventName } from './billing.constants';
import { LedgerService } from './ledger.service';
import { MeterReportsRepository, PendingReport } from './meter-reports.repository';
import { meterEventIdentifier } from './price-book';
import { PriceBookRepository } from './price-book.repository';
import { StripeCatalogService } from './stripe-catalog.service';
import { isDuplicateMeterEvent, StripeClient } from './stripe-client';

const HOUR_MS = 3600_000;
/** An hour is reported once it ended this long ago (flushes are every few seconds; late ones go to reconciliation). */
const SETTLE_MS = 10 * 60_000;
const DAY_MS = 86_400_000;
/** Values this close count as equal (usage can be fractional, e.g. GB-seconds). */
const EPSILON = 1e-9;

export interface ReportOutcome {
  queued: number;
  accepted: number;
  pending: number;
}

/**
 * Hourly usage → Stripe meter events. Each (org, meter, hour) is first written as a pending report with its
 * identifier `<org>:<meter>:<hour>`, then sent; it is marked accepted only after Stripe accepted it (or answered
 * that the identifier already exists: an earlier attempt got through and its answer was lost). Pending reports
 * are retried on every run until accepted. Reconciliation compares Stripe's hourly summaries with the ledger and
 * sends the difference as numbered corrections.
 */
@Injectable()
export class UsageReporterService {
  private readonly logger = new Logger(UsageReporterService.name);

  constructor(
    private readonly tx: ControlTransactions,
    private readonly reports: MeterReportsRepository,
    private readonly stripe: StripeClient,
    private readonly accounts: BillingAccountRepository,
    private readonly ledger: LedgerService,
    private readonly priceBook: PriceBookRepository,
    private readonly catalog: StripeCatalogService,
    private readonly clock: Clock,
  ) {}

  /**
   * Queues every complete hour not yet queued (ended at least SETTLE_MS ago, like the roll-up's), for every
   * connected org, then sends what is pending. Hours are read through the ledger (rolled-up hours, or the minute
   * counters of hours not rolled up yet), so reporting doesn't wait for the roll-up job.
   */
  async report(orgId?: string): Promise<ReportOutcome> {
    if (!this.stripe.enabled) return { queued: 0, accepted: 0, pending: 0 };
    let queued = 0;
    const to = new Date(Math.floor((this.clock.nowMs() - SETTLE_MS) / HOUR_MS) * HOUR_MS);
    for (const account of await this.accounts.connected()) {
      if (orgId && account.org_id !== orgId) continue;
      queued += await this.queueHours(account, to);
    }
    const { accepted, pending } = await this.sendPending(orgId);
    return { queued, accepted, pending };
  }

  private async queueHours(account: BillingAccount, to: Date): Promise<number> {
    const start = account.reported_through ?? new Date(Math.floor((account.period_start ?? account.created_at).getTime() / HOUR_MS) * HOUR_MS);
    // Stripe refuses events older than its window; anything older is past billing anyway.
    const from = new Date(Math.max(start.getTime(), to.getTime() - (STRIPE_METER_WINDOW_DAYS - 1) * DAY_MS));
    if (from >= to) return 0;
    const meters = await this.billedMeters(account);
    const hourly = await this.ledger.hourlyUsage(account.org_id, meters, from, to);
    const now = this.clock.now();
    return this.tx.run(async (m) => {
      let n = 0;
      for (const [hour, byMeter] of [...hourly].sort(([a], [b]) => a - b)) {
        for (const [meter, quantity] of byMeter) {
          if (!(Math.abs(quantity) > EPSILON)) continue;
          const at = new Date(hour);
          if (await this.reports.insertHourly(m, account.org_id, meter, at, meterEventIdentifier(account.org_id, meter, at), quantity, now)) n++;
        }
      }
      await this.accounts.advanceReportedThrough(m, account.org_id, to, now);
      return n;
    });
  }

  /** Sends pending reports oldest first; transient failures leave them pending for the next run. */
  async sendPending(orgId?: string, limit = 5000): Promise<{ accepted: number; pending: number }> {
    const rows = await this.reports.pending(orgId ?? null, limit);
    let accepted = 0;
    for (const r of rows) {
      try {
        await this.stripe.call('meter event', (s) =>
          s.billing.meterEvents.create({
            event_name: stripeEventName(r.meter),
            identifier: r.identifier,
            // The hour's last second: inside the hour (and its billing period), never in the future.
            timestamp: Math.floor(new Date(r.hour).getTime() / 1000) + 3599,
            payload: { stripe_customer_id: r.stripe_customer_id, value: r.quantity },
          }),
        );
        await this.markAccepted(r);
        accepted++;
      } catch (e) {
        if (isDuplicateMeterEvent(e)) {
          await this.markAccepted(r);
          accepted++;
          continue;
        }
        const message = (e as Error).message;
        this.logger.warn(`meter event ${r.identifier} not accepted yet: ${message}`);
        await this.reports.markFailed(r, message.slice(0, 1000));
      }
    }
    await this.alertOld();
    return { accepted, pending: await this.reports.countPending(orgId ?? null) };
  }

  /**
   * Compares, per connected org, meter and hour of the last 34 days, Stripe's aggregated meter usage with the
   * ledger, and sends each difference as a correction event. Hours with undelivered reports are skipped (they
   * are not a gap, just late). Returns the corrections sent.
   */
  async reconcile(orgId?: string): Promise<{ corrections: number; checked: number }> {
    if (!this.stripe.enabled) return { corrections: 0, checked: 0 };
    let corrections = 0;
    let checked = 0;
    for (const account of await this.accounts.connected()) {
      if (orgId && account.org_id !== orgId) continue;
      if (!account.reported_through) continue;
      const { pending } = await this.sendPending(account.org_id);
      const to = account.reported_through;
      const start = Math.floor((account.period_start ?? account.created_at).getTime() / HOUR_MS) * HOUR_MS;
      const from = new Date(Math.max(Math.floor((this.clock.nowMs() - (STRIPE_METER_WINDOW_DAYS - 1) * DAY_MS) / HOUR_MS) * HOUR_MS, Math.min(start, to.getTime())));
      if (from >= to) continue;
      const blocked = pending ? await this.pendingHours(account.org_id) : new Set<string>();
      const meters = await this.billedMeters(account);
      const local = await this.ledger.hourlyUsage(account.org_id, meters, from, to);
      const now = this.clock.now();
      for (const meter of meters) {
        const meterId = await this.catalog.meterId(meter);
        if (!meterId) continue;
        const summaries = await this.stripe.call('meter summaries', (s) =>
          s.billing.meters
            .listEventSummaries(meterId, {
              customer: account.stripe_customer_id!,
              start_time: Math.floor(from.getTime() / 1000),
              end_time: Math.floor(to.getTime() / 1000),
              value_grouping_window: 'hour',
              limit: 100,
            })
            .autoPagingToArray({ limit: 10_000 }),
        );
        const remote = new Map<number, number>(summaries.map((x) => [x.start_time * 1000, x.aggregated_value]));
        const hours = new Set<number>([...remote.keys(), ...[...local].filter(([, v]) => v.has(meter)).map(([h]) => h)]);
        for (const hour of [...hours].sort((a, b) => a - b)) {
          checked++;
          if (blocked.has(`${meter}|${hour}`)) continue;
          const diff = (local.get(hour)?.get(meter) ?? 0) - (remote.get(hour) ?? 0);
          if (Math.abs(diff) <= EPSILON) continue;
          const at = new Date(hour);
          const seq = await this.reports.nextSeq(account.org_id, meter, at);
          await this.reports.insertCorrection(account.org_id, meter, at, seq, meterEventIdentifier(account.org_id, meter, at, seq), diff, now);
          this.logger.warn(`reconciliation: ${account.org_id} ${meter} ${new Date(hour).toISOString()} differs by ${diff}; sending a correction`);
          corrections++;
        }
      }
      if (corrections) await this.sendPending(account.org_id);
    }
    return { corrections, checked };
  }

  /** Meters billed under the account's current plan version (the ones with a Stripe price). */
  private async billedMeters(account: BillingAccount): Promise<string[]> {
    const v = await this.priceBook.versionAt(account.plan_id, account.period_start ?? this.clock.now());
    return Object.keys(v?.meters ?? {}).sort();
  }

  private async pendingHours(orgId: string): Promise<Set<string>> {
    const rows = await this.reports.pendingHours(orgId);
    return new Set(rows.map((r) => `${r.meter}|${new Date(r.hour).getTime()}`));
  }

  private async markAccepted(r: PendingReport): Promise<void> {
    await this.reports.markAccepted(r, this.clock.now());
  }

  /** Undelivered usage nearing Stripe's 35-day limit is an operator alert: after that it can't be billed. */
  private async alertOld(): Promise<void> {
    const rows = await this.reports.pendingBefore(new Date(this.clock.nowMs() - REPORT_ALERT_DAYS * DAY_MS));
    for (const r of rows) {
      this.logger.error(
        { org_id: r.org_id, pending: r.n, oldest_hour: new Date(r.oldest).toISOString() },
        `usage of org ${r.org_id} is still not accepted by Stripe after ${REPORT_ALERT_DAYS} days; it can't be billed after ${STRIPE_METER_WINDOW_DAYS}`,
      );
    }
  }
}
