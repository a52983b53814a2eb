import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import Stripe from 'stripe';
import { Clock } from '@plinth/common';
import { OrgsRepository } from '@plinth/identity';
import { PlansService } from '@plinth/quotas';
import { BillingAccount, BillingAccountRepository } from './billing-account.repository';
import { PriceBookRepository } from './price-book.repository';
import { StripeCatalogService } from './stripe-catalog.service';
import { StripeClient } from './stripe-client';

export type ProrationBehavior = 'always_invoice' | 'none';

/**
 * Makes Stripe follow an org's billing account: one customer per org, one subscription with the plan version's
 * base price and a metered price per meter. Every create carries an idempotency key derived from the org and the
 * account's sync version, so a job retried after Stripe accepted (and before the local write) gets the same
 * object back instead of a second one.
 */
@Injectable()
export class SubscriptionSyncService {
  private readonly logger = new Logger(SubscriptionSyncService.name);

  constructor(
    private readonly orgs: OrgsRepository,
    private readonly stripe: StripeClient,
    private readonly accounts: BillingAccountRepository,
    private readonly catalog: StripeCatalogService,
    private readonly priceBook: PriceBookRepository,
    private readonly plans: PlansService,
    private readonly clock: Clock,
  ) {}

  /** The org's Stripe customer, created on first need (same idempotency key from every caller). */
  async ensureCustomer(orgId: string): Promise<string> {
    const account = await this.accounts.get(orgId);
    if (!account) throw new Error(`No billing account for org ${orgId}`);
    if (account.stripe_customer_id) return account.stripe_customer_id;
    const contact = await this.orgs.billingContact(orgId);
    const customer = await this.stripe.call('create customer', (s) =>
      s.customers.create(
        { name: contact?.name ?? orgId, ...(contact?.email ? { email: contact.email } : {}), metadata: { org_id: orgId } },
        { idempotencyKey: `plinth:${orgId}:customer` },
      ),
    );
    await this.accounts.setCustomerIfUnset(orgId, customer.id, this.clock.now());
    return (await this.accounts.get(orgId))!.stripe_customer_id!;
  }

  /** Creates or updates the subscription to match the account (plan, pending downgrade to a free plan). */
  async sync(orgId: string, proration: ProrationBehavior): Promise<void> {
    let account = await this.accounts.get(orgId);
    if (!account || !this.stripe.enabled) return;
    const plan = await this.plans.get(account.plan_id);
    if (plan.hard_caps) {
      // On a free plan: nothing to bill. A subscription still running is cancelled by its period end already.
      return;
    }
    const customer = await this.ensureCustomer(orgId);
    account = (await this.accounts.get(orgId))!;
    const version = await this.priceBook.versionAt(plan.id, account.period_start ?? this.clock.now());
    if (!version) throw new Error(`Plan ${plan.id} has no price book version`);
    const prices = await this.catalog.pricesFor(version);
    const cancelAtPeriodEnd = account.pending_plan_id !== null && (await this.plans.get(account.pending_plan_id)).hard_caps;
    const metadata = { org_id: orgId, plan_id: plan.id, price_version: String(version.version) };

    let sub: Stripe.Subscription | null = null;
    if (account.stripe_subscription_id) {
      sub = await this.stripe.call('retrieve subscription', (s) => s.subscriptions.retrieve(account!.stripe_subscription_id!));
      if (sub.status === 'canceled' || sub.status === 'incomplete_expired') sub = null;
    }
    if (!sub) {
      sub = await this.stripe.call('create subscription', (s) =>
        s.subscriptions.create(
          {
            customer,
            items: [{ price: prices.base }, ...Object.values(prices.meters).map((price) => ({ price }))],
            metadata,
            payment_behavior: 'allow_incomplete',
            ...(cancelAtPeriodEnd ? { cancel_at_period_end: true } : {}),
          },
          { idempotencyKey: `plinth:${orgId}:subscription:${account!.sync_version}` },
        ),
      );
    } else {
      const items = await this.itemChanges(sub, prices);
      const params: Stripe.SubscriptionUpdateParams = {
        ...(items.length ? { items, proration_behavior: proration } : {}),
        ...(sub.cancel_at_period_end !== cancelAtPeriodEnd ? { cancel_at_period_end: cancelAtPeriodEnd } : {}),
        ...(sub.metadata?.plan_id !== plan.id ? { metadata } : {}),
      };
      if (Object.keys(params).length) {
        // The key covers the parameters too: a retry after a partial local write asks for what is still missing.
        const digest = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 16);
        const subId = sub.id;
        sub = await this.stripe.call('update subscription', (s) =>
          s.subscriptions.update(subId, params, { idempotencyKey: `plinth:${orgId}:subscription-update:${account!.sync_version}:${digest}` }),
        );
      }
    }
    await this.recordSubscription(orgId, sub);
  }

  /** Stores what Stripe says about the subscription: id, status and the current period. */
  async recordSubscription(orgId: string, sub: Stripe.Subscription): Promise<void> {
    const item = sub.items.data[0];
    const live = sub.status !== 'canceled' && sub.status !== 'incomplete_expired';
    await this.accounts.recordSubscription(
      orgId,
      {
        id: live ? sub.id : null,
        status: sub.status,
        periodStart: live && item ? new Date(item.current_period_start * 1000) : null,
        periodEnd: live && item ? new Date(item.current_period_end * 1000) : null,
      },
      this.clock.now(),
    );
  }

  /** Item changes that turn the subscription's prices into `prices` (base stays base, each meter keeps its slot). */
  private async itemChanges(sub: Stripe.Subscription, prices: { base: string; meters: Record<string, string> }): Promise<Stripe.SubscriptionUpdateParams.Item[]> {
    const wanted = new Set([prices.base, ...Object.values(prices.meters)]);
    const covered = new Set<string>();
    const changes: Stripe.SubscriptionUpdateParams.Item[] = [];
    for (const item of sub.items.data) {
      if (wanted.has(item.price.id)) {
        covered.add(item.price.id);
        continue;
      }
      const part = (await this.catalog.describePrice(item.price.id))?.part;
      const replacement = part === 'base' ? prices.base : part ? prices.meters[part] : undefined;
      if (replacement && !covered.has(replacement)) {
        changes.push({ id: item.id, price: replacement });
        covered.add(replacement);
      } else {
        changes.push({ id: item.id, deleted: true });
      }
    }
    for (const price of wanted) if (!covered.has(price)) changes.push({ price });
    return changes;
  }

  /** For tests and the console: the account as stored. */
  account(orgId: string): Promise<BillingAccount | null> {
    return this.accounts.get(orgId);
  }
}
