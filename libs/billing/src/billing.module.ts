import { Module } from '@nestjs/common';
import { AuditModule } from '@plinth/audit';
import { IdentityModule } from '@plinth/identity';
import { OutboxModule } from '@plinth/jobs';
import { MailModule } from '@plinth/mail';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { TenancyModule } from '@plinth/tenancy';
import { BillingAccessModule } from './billing-access.module';
import { BillingController, StripeWebhookController } from './billing.controller';
import { BillingService } from './billing.service';
import { ClosePeriodsJob } from './close-periods.job';
import { DelinquencyNoticesJob } from './delinquency-notices.job';
import { LedgerService } from './ledger.service';
import { MeterReportsRepository } from './meter-reports.repository';
import { PeriodCloserService } from './period-closer.service';
import { PlanFitService } from './plan-fit.service';
import { PriceBookRepository } from './price-book.repository';
import { PriceBookService } from './price-book.service';
import { ReconcileUsageJob } from './reconcile-usage.job';
import { ReportUsageJob } from './report-usage.job';
import { SendDelinquencyNoticeJob } from './send-delinquency-notice.job';
import { StripeCatalogRepository } from './stripe-catalog.repository';
import { StripeCatalogService } from './stripe-catalog.service';
import { StripeClient } from './stripe-client';
import { StripeEventJob } from './stripe-event.job';
import { StripeEventsRepository } from './stripe-events.repository';
import { StripeEventsService } from './stripe-events.service';
import { SubscriptionSyncService } from './subscription-sync.service';
import { SyncSubscriptionJob } from './sync-subscription.job';
import { UsageReporterService } from './usage-reporter.service';

/**
 * Billing: price book, local invoices (ledger-only mode) or Stripe (customer, subscription, hourly meter events,
 * reconciliation, webhooks), plan changes, delinquency. The api and the worker both import it (its jobs run
 * wherever jobs run).
 */
@Module({
  imports: [OutboxModule, MailModule, MeteringModule, QuotasModule, TenancyModule, IdentityModule, AuditModule, BillingAccessModule],
  controllers: [BillingController, StripeWebhookController],
  providers: [
    StripeClient,
    PriceBookRepository,
    PriceBookService,
    LedgerService,
    StripeCatalogService,
    StripeCatalogRepository,
    SubscriptionSyncService,
    UsageReporterService,
    MeterReportsRepository,
    StripeEventsService,
    StripeEventsRepository,
    PlanFitService,
    PeriodCloserService,
    BillingService,
    SyncSubscriptionJob,
    ReportUsageJob,
    ReconcileUsageJob,
    StripeEventJob,
    ClosePeriodsJob,
    DelinquencyNoticesJob,
    SendDelinquencyNoticeJob,
  ],
  exports: [StripeClient, PriceBookService, StripeCatalogService, UsageReporterService, PeriodCloserService, StripeEventsService, SubscriptionSyncService, BillingAccessModule],
})
export class BillingModule {}
