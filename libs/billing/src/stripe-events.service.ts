import { Inject, Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { CacheInvalidation, ControlTransactions } from '@plinth/database';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { DEFAULT_PLAN_ID, PlansService } from '@plinth/quotas';
import { BillingAccount, BillingAccountRepository, InvoiceLine } from './billing-account.repository';
import { BILLING_ACCESS_TOPIC, BILLING_JOBS } from './billing.constants';
import { LedgerService } from './ledger.service';
import { PlanFitService } from './plan-fit.service';
import { allocate } from './price-book';
import { StripeCatalogService } from './stripe-catalog.service';
import { isMissing, StripeClient } from './stripe-client';
import { StripeEventsRepository } from './stripe-events.repository';
import { SubscriptionSyncService } from './subscription-sync.service';

/** Job data of one received webhook event: which object to fetch. */
export interface StripeEventJobData {
  orgId: null;
  eventId: string;
  type: string;
  objectId: string;
}

/** Event types whose objects Plinth follows (the webhook endpoint can subscribe to just these). */
const HANDLED = ['invoice.', 'customer.subscription.', 'customer.deleted', 'checkout.session.completed'];

/** Webhook signatures older than this are refused (replays), as Stripe recommends. */
const SIGNATURE_TOLERANCE_S = 300;

/**
 * Stripe webhooks: verify the signature on the raw body, take each event id in once (a row plus an outbox job in
 * one transaction), and process it by fetching the object's current state from Stripe, so duplicates and any
 * delivery order lead to the same result.
 */
@Injectable()
export class StripeEventsService {
  private readonly logger = new Logger(StripeEventsService.name);

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tx: ControlTransactions,
    private readonly events: StripeEventsRepository,
    private readonly stripe: StripeClient,
    private readonly accounts: BillingAccountRepository,
    private readonly subscriptions: SubscriptionSyncService,
    private readonly catalog: StripeCatalogService,
    private readonly ledger: LedgerService,
    private readonly plans: PlansService,
    private readonly outbox: OutboxService,
    private readonly invalidation: CacheInvalidation,
    private readonly fit: PlanFitService,
    private readonly clock: Clock,
  ) {}

  /** The webhook endpoint's work: 400 on a bad signature; otherwise records the event (once) for processing. */
  async receive(rawBody: Buffer | undefined, signature: string | undefined): Promise<{ received: true; duplicate: boolean }> {
    const secret = this.config.billing.stripe?.webhookSecret;
    const sdk = this.stripe.sdk;
    if (!sdk || !secret) throw PlinthException.notFound('Route');
    if (!rawBody || !signature) throw new PlinthException(ErrorCode.BadRequest, 'Missing Stripe-Signature header or body');
    let event: Stripe.Event;
    try {
      event = sdk.webhooks.constructEvent(rawBody, signature, secret, SIGNATURE_TOLERANCE_S);
    } catch (e) {
      throw new PlinthException(ErrorCode.BadRequest, `Webhook signature verification failed: ${(e as Error).message.split('\n')[0]}`);
    }
    const objectId = (event.data.object as { id?: string }).id ?? '';
    const handled = HANDLED.some((prefix) => event.type.startsWith(prefix));
    const fresh = await this.tx.run(async (m) => {
      const now = this.clock.now();
      const recorded = await this.events.record(m, { id: event.id, type: event.type, created: new Date(event.created * 1000), receivedAt: now, processedAt: handled ? null : now });
      if (!recorded) return false;
      if (!handled) return true; // acknowledged; nothing of Plinth's state depends on it
      await this.outbox.enqueue<StripeEventJobData>(m, {
        queue: QUEUES.billing,
        name: BILLING_JOBS.stripeEvent,
        data: { orgId: null, eventId: event.id, type: event.type, objectId },
        dedupeKey: event.id,
      });
      return true;
    });
    return { received: true, duplicate: !fresh };
  }

  /** Applies one event from the current state of its object. Idempotent. */
  async process(d: StripeEventJobData): Promise<void> {
    if (!this.stripe.enabled) return;
    if (d.type.startsWith('invoice.')) await this.syncInvoice(d.objectId);
    else if (d.type.startsWith('customer.subscription.')) await this.syncSubscription(d.objectId);
    else if (d.type === 'customer.deleted') await this.customerDeleted(d.objectId);
    else if (d.type === 'checkout.session.completed') await this.checkoutCompleted(d.objectId);
    await this.events.markProcessed(d.eventId, this.clock.now());
  }

  /** Mirrors the invoice as it is now, refreshes its subscription, and re-derives delinquency. */
  async syncInvoice(invoiceId: string): Promise<void> {
    const inv = await this.stripe.call('retrieve invoice', (s) => s.invoices.retrieve(invoiceId));
    const customerId = typeof inv.customer === 'string' ? inv.customer : (inv.customer?.id ?? null);
    const account = customerId ? await this.accountOf(customerId) : null;
    if (!account) return void this.logger.warn(`invoice ${invoiceId}: no org for customer ${customerId}`);
    let lineItems = inv.lines.data;
    if (inv.lines.has_more) lineItems = await this.stripe.call('invoice lines', (s) => s.invoices.listLineItems(invoiceId, { limit: 100 }).autoPagingToArray({ limit: 10_000 }));
    const lines = await this.mapLines(account.org_id, lineItems);
    const subId = inv.parent?.subscription_details?.subscription;
    const now = this.clock.now();
    await this.tx.run(async (m) => {
      await this.accounts.upsertStripeInvoice(
        m,
        {
          org_id: account.org_id,
          stripe_invoice_id: inv.id!,
          number: inv.number ?? null,
          reason: inv.billing_reason ?? 'manual',
          status: inv.status ?? 'draft',
          currency: inv.currency,
          period_start: new Date(inv.period_start * 1000),
          period_end: new Date(inv.period_end * 1000),
          total_minor: inv.total,
          amount_paid_minor: inv.amount_paid,
          attempt_count: inv.attempt_count,
          plan_id: null,
          lines,
          hosted_url: inv.hosted_invoice_url ?? null,
          created_at: new Date(inv.created * 1000),
        },
        now,
      );
    });
    if (subId) await this.syncSubscription(typeof subId === 'string' ? subId : subId.id);
    else await this.refreshDelinquency(account.org_id);
  }

  /** Takes the subscription's current status and period; a cancelled one puts the org back on the free plan. */
  async syncSubscription(subscriptionId: string): Promise<void> {
    const sub = await this.stripe.call('retrieve subscription', (s) => s.subscriptions.retrieve(subscriptionId));
    const customerId = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
    const account = (sub.metadata?.org_id ? await this.accounts.get(sub.metadata.org_id) : null) ?? (await this.accountOf(customerId));
    if (!account) return void this.logger.warn(`subscription ${subscriptionId}: no org for customer ${customerId}`);
    // An event about an older subscription of the org (replaced since) changes nothing.
    if (account.stripe_subscription_id && account.stripe_subscription_id !== sub.id) return this.refreshDelinquency(account.org_id);
    const ended = sub.status === 'canceled' || sub.status === 'incomplete_expired';
    const now = this.clock.now();
    if (ended) {
      await this.tx.run(async (m) => {
        const a = (await this.accounts.get(account.org_id, m, true))!;
        // Only the org's current subscription ending changes its plan (a late event about an older one doesn't).
        if (a.stripe_subscription_id !== sub.id) return;
        const freePlan = a.pending_plan_id ?? DEFAULT_PLAN_ID;
        await this.accounts.update(m, a.org_id, { stripe_subscription_id: null, subscription_status: sub.status, plan_id: freePlan, pending_plan_id: null, period_start: null, period_end: null }, now);
        await this.plans.setOrgPlan(a.org_id, freePlan, m);
        await this.fit.recordSwitch(m, a.org_id, await this.plans.get(freePlan));
      });
    } else {
      const previousStart = account.period_start?.getTime() ?? 0;
      await this.subscriptions.recordSubscription(account.org_id, sub);
      const periodStart = (sub.items.data[0]?.current_period_start ?? 0) * 1000;
      // A pending downgrade between paid plans takes effect when Stripe has rolled the subscription into its next period.
      if (account.pending_plan_id && periodStart > previousStart && previousStart > 0 && !(await this.plans.get(account.pending_plan_id)).hard_caps) {
        await this.applyPendingDowngrade(account.org_id);
      }
    }
    await this.refreshDelinquency(account.org_id);
  }

  private async applyPendingDowngrade(orgId: string): Promise<void> {
    const now = this.clock.now();
    await this.tx.run(async (m) => {
      const a = (await this.accounts.get(orgId, m, true))!;
      if (!a.pending_plan_id) return;
      await this.accounts.update(m, orgId, { plan_id: a.pending_plan_id, pending_plan_id: null, sync_version: a.sync_version + 1 }, now);
      await this.plans.setOrgPlan(orgId, a.pending_plan_id, m);
      await this.fit.recordSwitch(m, orgId, await this.plans.get(a.pending_plan_id));
      await this.outbox.enqueue(m, {
        queue: QUEUES.billing,
        name: BILLING_JOBS.syncSubscription,
        data: { orgId, proration: 'none' },
        dedupeKey: `sync:${orgId}:${a.sync_version + 1}`,
      });
    });
  }

  async customerDeleted(customerId: string): Promise<void> {
    const account = await this.accounts.byCustomer(customerId);
    if (!account) return;
    let deleted = true;
    try {
      const c = await this.stripe.call('retrieve customer', (s) => s.customers.retrieve(customerId));
      deleted = 'deleted' in c && c.deleted === true;
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    if (!deleted) return;
    const now = this.clock.now();
    await this.tx.run(async (m) => {
      // Stripe cancelled the subscription with the customer: back to the free plan, a new customer on next need.
      await this.accounts.update(
        m,
        account.org_id,
        { stripe_customer_id: null, stripe_subscription_id: null, subscription_status: 'canceled', plan_id: DEFAULT_PLAN_ID, pending_plan_id: null, period_start: null, period_end: null, delinquent_since: null },
        now,
      );
      await this.plans.setOrgPlan(account.org_id, DEFAULT_PLAN_ID, m);
      await this.invalidation.publish(m, BILLING_ACCESS_TOPIC, account.org_id);
    });
  }

  async checkoutCompleted(sessionId: string): Promise<void> {
    const session = await this.stripe.call('retrieve checkout session', (s) => s.checkout.sessions.retrieve(sessionId));
    if (session.status !== 'complete' || !session.customer) return;
    const account = await this.accountOf(typeof session.customer === 'string' ? session.customer : session.customer.id);
    if (!account) return;
    await this.accounts.markPaymentMethod(account.org_id, this.clock.now());
  }

  /**
   * Delinquent while a Stripe invoice is open after a failed payment attempt, or the subscription is past due
   * or unpaid. Becoming delinquent starts the clock once; any payment that clears it restores access at once.
   */
  async refreshDelinquency(orgId: string): Promise<void> {
    const now = this.clock.now();
    await this.tx.run(async (m) => {
      const a = await this.accounts.get(orgId, m, true);
      if (!a) return;
      const delinquent = (await this.accounts.hasFailedOpenInvoice(m, orgId)) || a.subscription_status === 'past_due' || a.subscription_status === 'unpaid';
      const since = delinquent ? (a.delinquent_since ?? now) : null;
      if ((since?.getTime() ?? null) === (a.delinquent_since?.getTime() ?? null)) return;
      await this.accounts.update(m, orgId, { delinquent_since: since }, now);
      await this.invalidation.publish(m, BILLING_ACCESS_TOPIC, orgId);
      this.logger.log(`org ${orgId} is ${delinquent ? 'delinquent' : 'in good standing'}`);
    });
  }

  private async accountOf(customerId: string): Promise<BillingAccount | null> {
    const account = await this.accounts.byCustomer(customerId);
    if (account) return account;
    // The webhook may beat the local write of a new customer id; the customer's metadata names the org.
    try {
      const c = await this.stripe.call('retrieve customer', (s) => s.customers.retrieve(customerId));
      const orgId = 'deleted' in c && c.deleted ? undefined : (c as Stripe.Customer).metadata?.org_id;
      if (!orgId) return null;
      await this.accounts.setCustomerIfUnset(orgId, customerId, this.clock.now());
      return this.accounts.get(orgId);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  /** Stripe lines in Plinth's terms: base fee, proration or a meter's usage with its split over projects. */
  private async mapLines(orgId: string, items: Stripe.InvoiceLineItem[]): Promise<InvoiceLine[]> {
    const out: InvoiceLine[] = [];
    for (const l of items) {
      const priceId = l.pricing?.price_details?.price;
      const described = priceId ? await this.catalog.describePrice(typeof priceId === 'string' ? priceId : priceId.id) : null;
      const proration = l.parent?.subscription_item_details?.proration || l.parent?.invoice_item_details?.proration || false;
      const period = { start: new Date(l.period.start * 1000).toISOString(), end: new Date(l.period.end * 1000).toISOString() };
      const quantity = l.quantity ?? 0;
      if (proration) {
        out.push({ kind: 'proration', description: l.description ?? 'Proration', quantity, amount_minor: l.amount, period });
      } else if (described?.part === 'base') {
        out.push({ kind: 'base', description: l.description ?? `${described.plan_id} base fee`, quantity, amount_minor: l.amount, period });
      } else if (described) {
        const meter = described.part;
        const { projects, usage } = await this.ledger.periodUsage(orgId, [meter], new Date(l.period.start * 1000), new Date(l.period.end * 1000));
        const byProject = usage.get(meter)?.byProject ?? new Map<string, number>();
        const shares = allocate(l.amount, [...byProject].sort(([a], [b]) => a.localeCompare(b)));
        const refs = new Map(projects.map((p) => [p.id, p.ref]));
        out.push({
          kind: 'usage',
          description: l.description ?? meter,
          meter,
          quantity,
          amount_minor: l.amount,
          period,
          projects: [...byProject].map(([id, q]) => ({ project_id: id, ref: refs.get(id) ?? id, quantity: q, amount_minor: shares.get(id) ?? 0 })),
        });
      } else {
        out.push({ kind: 'other', description: l.description ?? '', quantity, amount_minor: l.amount, period });
      }
    }
    return out;
  }
}
