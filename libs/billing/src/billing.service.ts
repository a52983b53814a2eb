import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlinthException } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { OrgsRepository, type Principal } from '@plinth/identity';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { periodEnd, periodStart, UsageRepository } from '@plinth/metering';
import { Plan, PlansService } from '@plinth/quotas';
import { BillingAccessService } from './billing-access.service';
import { BillingAccount, BillingAccountRepository, InvoiceLine, InvoiceRecord } from './billing-account.repository';
import { BILLING_JOBS } from './billing.constants';
import { LedgerService } from './ledger.service';
import { addMonths, meterAmount, prorate } from './price-book';
import { describeExcess, PlanExcess, PlanFitService } from './plan-fit.service';
import { PriceBookRepository } from './price-book.repository';
import { StripeClient } from './stripe-client';
import { SubscriptionSyncService } from './subscription-sync.service';

const HOUR_MS = 3600_000;

/** Billing as the console sees it: the current period, invoices, plan changes, checkout and portal sessions. */
@Injectable()
export class BillingService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tx: ControlTransactions,
    private readonly accounts: BillingAccountRepository,
    private readonly orgs: OrgsRepository,
    private readonly priceBook: PriceBookRepository,
    private readonly ledger: LedgerService,
    private readonly plans: PlansService,
    private readonly usage: UsageRepository,
    private readonly stripe: StripeClient,
    private readonly subscriptions: SubscriptionSyncService,
    private readonly access: BillingAccessService,
    private readonly outbox: OutboxService,
    private readonly audit: AuditService,
    private readonly fit: PlanFitService,
    private readonly clock: Clock,
  ) {}

  /** Plan, period, usage to date per meter against what is included, cost so far and projected to period end. */
  async overview(p: Principal, orgId: string) {
    p.permissions.assert('read', 'Billing', orgId, 'Organization');
    const now = this.clock.nowMs();
    const account = await this.accounts.get(orgId);
    const plan = await this.plans.forOrg(orgId);
    const start = account?.period_start ?? periodStart(now);
    const end = account?.period_end ?? periodEnd(now);
    const version = await this.priceBook.versionAt(plan.id, start);
    const meters = Object.keys(version?.meters ?? {}).sort();
    const { usage } = await this.ledger.periodUsage(orgId, meters, start, end);
    // Linear projection from the usage so far (at least an hour of it, so a fresh period doesn't explode).
    const elapsed = Math.max(HOUR_MS, Math.min(now, end.getTime()) - start.getTime());
    const factor = Math.max(1, (end.getTime() - start.getTime()) / elapsed);
    const perMeter: Record<string, unknown> = {};
    let usageCost = 0;
    let projectedUsage = 0;
    for (const meter of meters) {
      const price = version!.meters[meter];
      const used = usage.get(meter)?.quantity ?? 0;
      const cost = meterAmount(price, used);
      const projected = meterAmount(price, used * factor);
      usageCost += cost;
      projectedUsage += projected;
      perMeter[meter] = {
        used,
        included: price.included,
        overage: Math.max(0, used - price.included),
        unit_price_minor: price.tiers?.length ? null : price.unit_price,
        tiers: price.tiers ?? null,
        cost_minor: cost,
        projected_minor: projected,
      };
    }
    const base = plan.hard_caps ? 0 : (version?.base_fee_minor ?? 0);
    const delinquency = await this.access.delinquency(orgId);
    const pendingReports = await this.accounts.pendingReports(orgId);
    return {
      org_id: orgId,
      mode: this.stripe.enabled ? 'stripe' : 'ledger_only',
      currency: account?.currency ?? version?.currency ?? this.config.billing.currency,
      plan: { id: plan.id, name: plan.name },
      pending_plan: account?.pending_plan_id ? { id: account.pending_plan_id, effective_at: end.toISOString() } : null,
      price_version: version?.version ?? null,
      period: { start: start.toISOString(), end: end.toISOString() },
      base_fee_minor: base,
      meters: perMeter,
      cost_to_date_minor: base + usageCost,
      projected_minor: base + projectedUsage,
      subscription: account?.stripe_subscription_id ? { status: account.subscription_status } : null,
      payment_method: account?.payment_method_at ? { added_at: account.payment_method_at.toISOString() } : null,
      delinquency: {
        state: delinquency.state,
        since: delinquency.since?.toISOString() ?? null,
        read_only_at: delinquency.read_only_at?.toISOString() ?? null,
        suspended_at: delinquency.suspended_at?.toISOString() ?? null,
      },
      reporting: this.stripe.enabled ? { pending: pendingReports.n, oldest_pending_hour: pendingReports.oldest ? new Date(pendingReports.oldest).toISOString() : null } : null,
    };
  }

  /** Stripe's invoices (as last received) when connected, the ledger's otherwise; lines per meter and project. */
  async invoices(p: Principal, orgId: string) {
    p.permissions.assert('read', 'Billing', orgId, 'Organization');
    return (await this.accounts.invoices(orgId)).map((i) => this.invoiceView(i));
  }

  /**
   * Upgrades take effect now (a free → paid change starts a subscription period; paid → paid prorates the base
   * fee); downgrades take effect at the end of the period and are refused while usage exceeds the target plan's
   * hard limits. Asking for the current plan cancels a pending downgrade.
   */
  async changePlan(p: Principal, orgId: string, planId: string) {
    p.permissions.assert('update', 'Billing', orgId, 'Organization');
    const offered = await this.plans.list();
    const target = offered.find((x) => x.id === planId);
    if (!target) throw PlinthException.badRequest(`Unknown plan "${planId}"; choose one of ${offered.map((x) => x.id).join(', ')}`);
    const rank = (id: string) => offered.findIndex((x) => x.id === id);
    const now = this.clock.now();
    const stripe = this.stripe.enabled;
    let change: 'upgrade' | 'downgrade' | 'cancel_downgrade' | 'none' = 'none';
    await this.tx.run(async (m) => {
      const current = await this.plans.forOrg(orgId);
      const account = await this.accounts.getOrCreate(m, orgId, { currency: this.config.billing.currency, planId: current.id, at: now });
      const from = await this.plans.get(account.plan_id);
      if (from.id === target.id) {
        if (!account.pending_plan_id) return;
        change = 'cancel_downgrade';
        await this.accounts.update(m, orgId, { pending_plan_id: null, sync_version: account.sync_version + 1 }, now);
      } else if (rank(target.id) > rank(from.id) || from.hard_caps) {
        change = 'upgrade';
        await this.upgrade(m, account, from, target, now);
      } else {
        change = 'downgrade';
        // Serialised with project creation (which locks the org row), so no project slips in between the check
        // and the pending downgrade that later creates are held to.
        await this.orgs.lock(m, orgId);
        await this.assertFits(m, orgId, target);
        if (!account.period_end || from.hard_caps) {
          // No running paid period: nothing to wait for.
          await this.accounts.update(m, orgId, { plan_id: target.id, pending_plan_id: null, sync_version: account.sync_version + 1 }, now);
          await this.plans.setOrgPlan(orgId, target.id, m);
        } else {
          await this.accounts.update(m, orgId, { pending_plan_id: target.id, sync_version: account.sync_version + 1 }, now);
        }
      }
      if (stripe) {
        await this.outbox.enqueue(m, {
          queue: QUEUES.billing,
          name: BILLING_JOBS.syncSubscription,
          data: { orgId, proration: 'always_invoice' },
          dedupeKey: `sync:${orgId}:${account.sync_version + 1}`,
        });
      }
      await this.audit.record(m, p.actor, {
        orgId,
        action: 'billing.plan.change',
        targetType: 'org',
        targetId: orgId,
        details: { from: from.id, to: target.id, change, effective: change === 'downgrade' ? (account.period_end?.toISOString() ?? 'now') : 'now' },
      });
    });
    return { change, ...(await this.overview(p, orgId)) };
  }

  /** A Checkout Session in setup mode, to add a payment method (Stripe mode only). */
  async checkoutSession(p: Principal, orgId: string) {
    p.permissions.assert('update', 'Billing', orgId, 'Organization');
    this.stripe.require();
    const customer = await this.customerFor(orgId);
    const urls = this.config.billing.urls;
    const session = await this.stripe.call('create checkout session', (s) =>
      s.checkout.sessions.create({
        mode: 'setup',
        customer,
        currency: this.config.billing.currency,
        success_url: urls.checkoutSuccess,
        cancel_url: urls.checkoutCancel,
        metadata: { org_id: orgId },
      }),
    );
    return { id: session.id, url: session.url };
  }

  /** A Customer Portal session (payment methods, invoices), returning to the console. */
  async portalSession(p: Principal, orgId: string) {
    p.permissions.assert('update', 'Billing', orgId, 'Organization');
    this.stripe.require();
    const customer = await this.customerFor(orgId);
    const session = await this.stripe.call('create portal session', (s) =>
      s.billingPortal.sessions.create({ customer, return_url: this.config.billing.urls.portalReturn }),
    );
    return { url: session.url };
  }

  private async customerFor(orgId: string): Promise<string> {
    const current = await this.plans.forOrg(orgId);
    await this.tx.run((m) => this.accounts.getOrCreate(m, orgId, { currency: this.config.billing.currency, planId: current.id, at: this.clock.now() }));
    // Same idempotency key as the sync job's, so the two can never make two customers.
    return this.subscriptions.ensureCustomer(orgId);
  }

  private async upgrade(m: EntityManager, account: BillingAccount, from: Plan, to: Plan, now: Date): Promise<void> {
    const ledgerOnly = !this.stripe.enabled;
    if (from.hard_caps || !account.period_start || !account.period_end) {
      const start = now;
      const end = addMonths(now, 1);
      await this.accounts.update(m, account.org_id, { plan_id: to.id, pending_plan_id: null, period_start: start, period_end: end, reported_through: null, sync_version: account.sync_version + 1 }, now);
      if (ledgerOnly) {
        const v = await this.priceBook.versionAt(to.id, start);
        const base = v?.base_fee_minor ?? 0;
        await this.issue(m, account, 'subscription_create', start, start, to.id, v?.version ?? null, [
          { kind: 'base', description: `${to.name} base fee`, quantity: 1, amount_minor: base, period: { start: start.toISOString(), end: end.toISOString() } },
        ]);
      }
    } else {
      await this.accounts.update(m, account.org_id, { plan_id: to.id, pending_plan_id: null, sync_version: account.sync_version + 1 }, now);
      if (ledgerOnly) {
        const [oldV, newV] = await Promise.all([this.priceBook.versionAt(from.id, account.period_start), this.priceBook.versionAt(to.id, account.period_start)]);
        const period = { start: now.toISOString(), end: account.period_end.toISOString() };
        const lines: InvoiceLine[] = [
          { kind: 'proration' as const, description: `Unused time on ${from.name}`, quantity: 1, amount_minor: -prorate(oldV?.base_fee_minor ?? 0, account.period_start, account.period_end, now), period },
          { kind: 'proration' as const, description: `Remaining time on ${to.name}`, quantity: 1, amount_minor: prorate(newV?.base_fee_minor ?? 0, account.period_start, account.period_end, now), period },
        ].filter((l) => l.amount_minor !== 0);
        if (lines.length) await this.issue(m, account, 'subscription_update', now, now, to.id, newV?.version ?? null, lines);
      }
    }
    await this.plans.setOrgPlan(account.org_id, to.id, m);
  }

  private async issue(m: EntityManager, account: BillingAccount, reason: string, start: Date, end: Date, planId: string, version: number | null, lines: InvoiceLine[]): Promise<void> {
    await this.accounts.insertLedgerInvoice(m, {
      org_id: account.org_id,
      number: await this.accounts.nextLedgerNumber(m, account.org_id),
      reason,
      status: 'issued',
      currency: account.currency,
      period_start: start,
      period_end: end,
      total_minor: lines.reduce((s, l) => s + l.amount_minor, 0),
      plan_id: planId,
      price_version: version,
      lines,
      created_at: this.clock.now(),
    });
  }

  /**
   * A downgrade target must hold the org's structure (projects per org, tables per project, columns per table)
   * and, for a plan with hard caps, each project's usage so far this period. 409 with `details.exceeds` listing
   * every limit the org is over, so the console can say what to delete first.
   */
  private async assertFits(m: EntityManager, orgId: string, target: Plan): Promise<void> {
    const exceeds: PlanExcess[] = await this.fit.excess(m, orgId, target);
    const projects = await this.ledger.activeProjectsOf(m, orgId);
    if (target.hard_caps && projects.length) {
      const now = this.clock.nowMs();
      const ids = projects.map((x) => x.id);
      const [totals, samples] = await Promise.all([this.usage.totals(ids, periodStart(now), periodEnd(now)), this.usage.latestSamples(ids)]);
      const used = [...totals.map((t) => ({ project_id: t.project_id, meter: t.meter, value: Number(t.quantity) })), ...samples.map((s) => ({ ...s, value: Number(s.value) }))];
      for (const u of used) {
        const included = target.included[u.meter];
        if (included !== undefined && u.value > included) {
          const ref = projects.find((x) => x.id === u.project_id)?.ref ?? u.project_id;
          exceeds.push({ limit: 'usage', meter: u.meter, max: included, current: u.value, project: ref });
        }
      }
    }
    if (exceeds.length) {
      throw PlinthException.conflict(`Can't downgrade to ${target.name} while the organization exceeds its limits: ${exceeds.map(describeExcess).join('; ')}; delete what exceeds first`, {
        plan: target.id,
        exceeds,
      });
    }
  }

  invoiceView(i: InvoiceRecord) {
    return {
      id: i.stripe_invoice_id ?? i.id,
      source: i.source,
      number: i.number,
      reason: i.reason,
      status: i.status,
      currency: i.currency,
      period: { start: new Date(i.period_start).toISOString(), end: new Date(i.period_end).toISOString() },
      total_minor: Number(i.total_minor),
      amount_paid_minor: Number(i.amount_paid_minor),
      hosted_url: i.hosted_url,
      lines: i.lines,
      created_at: new Date(i.created_at).toISOString(),
    };
  }
}
