/** Billing: price book, ledger-only or Stripe invoicing, hourly meter events, webhooks, plan changes, delinquency. */
export { BillingModule } from './billing.module';
/** The gateway's cheap check (cached; 402 `payment_required` for delinquent orgs), in a module of its own. */
export { BillingAccessModule } from './billing-access.module';
export { BillingAccessService } from './billing-access.service';
/** The delinquency timeline (grace → read-only → suspended) as a pure function. */
export { delinquency } from './delinquency';
export type { Delinquency, DelinquencyState } from './delinquency';
/** Price book versions and their arithmetic (tiers, proration, allocation to projects). */
export { PriceBookService } from './price-book.service';
export type { PublishPrices } from './price-book.service';
export { amountFor, meterAmount, priceModel, prorate, allocate, addMonths, hoursOfPeriod, meterEventIdentifier } from './price-book';
export type { MeterPrice, OverageTier, PriceVersion, PriceModel } from './price-book';
/** Stripe: the configured SDK (null = ledger-only), catalog sync (`npm run stripe:sync`), reporting, webhooks. */
export { StripeClient } from './stripe-client';
export { StripeCatalogService } from './stripe-catalog.service';
export type { SyncSummary } from './stripe-catalog.service';
export { UsageReporterService } from './usage-reporter.service';
export { StripeEventsService } from './stripe-events.service';
export { SubscriptionSyncService } from './subscription-sync.service';
/** Ledger-only renewals (period-end invoices, pending downgrades). */
export { PeriodCloserService } from './period-closer.service';
/** Jobs, exported so tests and operators can run one on demand. */
export { ReportUsageJob } from './report-usage.job';
export { ReconcileUsageJob } from './reconcile-usage.job';
export { ClosePeriodsJob } from './close-periods.job';
export { DelinquencyNoticesJob } from './delinquency-notices.job';
export type { DelinquencyNoticeRun } from './delinquency-notices.job';
export { SendDelinquencyNoticeJob, SEND_DELINQUENCY_NOTICE_JOB } from './send-delinquency-notice.job';
export type { SendDelinquencyNoticeData } from './send-delinquency-notice.job';
/** Pinned Stripe API version, job names, identifiers. */
export { STRIPE_API_VERSION, BILLING_JOBS, BILLING_ACCESS_TOPIC, stripeEventName } from './billing.constants';
