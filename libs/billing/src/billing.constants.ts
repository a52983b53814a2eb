import Stripe from 'stripe';

/**
 * The Stripe API version Plinth is written against, pinned in code: a newer SDK (or account default) must not
 * change the shape of the objects we read. Bumping it is a deliberate change with its own review.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const satisfies typeof Stripe.API_VERSION;

/** Job names of the billing queue (`QUEUES.billing`). */
export const BILLING_JOBS = {
  syncSubscription: 'sync-subscription',
  reportUsage: 'report-usage',
  reconcileUsage: 'reconcile-usage',
  stripeEvent: 'stripe-event',
  closePeriods: 'close-periods',
  delinquencyNotices: 'delinquency-notices',
} as const;

/** Cache-invalidation topic: an org's billing access (delinquency) changed. */
export const BILLING_ACCESS_TOPIC = 'billing-access';

/** Stripe keeps meter events for 35 days; corrections and late reports must land before then. */
export const STRIPE_METER_WINDOW_DAYS = 35;
/** Pending reports older than this raise an alert, leaving days to fix delivery before the window closes. */
export const REPORT_ALERT_DAYS = 30;

/** Meter event names in Stripe: one Billing Meter per Plinth meter. */
export const stripeEventName = (meter: string) => `plinth_${meter}`;
/** Lookup key of a price: one per plan version and part (`base` or a meter). */
export const priceLookupKey = (planId: string, version: number, part: string) => `plinth_${planId}_v${version}_${part}`;
/** Stripe product id per plan (custom ids make `stripe:sync` idempotent without a lookup table). */
export const productId = (planId: string) => `plinth_plan_${planId}`;
