import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BILLING_JOBS } from './billing.constants';
import { StripeClient } from './stripe-client';
import { UsageReporterService } from './usage-reporter.service';

/** Daily: compare Stripe's meter summaries with the ledger and send corrections for any difference. */
@Injectable()
export class ReconcileUsageJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.reconcileUsage;

  constructor(
    private readonly registry: JobRegistry,
    private readonly stripe: StripeClient,
    private readonly reporter: UsageReporterService,
  ) {}

  onModuleInit(): void {
    // Only a process that can reach Stripe takes this job (the runners only claim jobs they have a handler for).
    if (!this.stripe.enabled) return;
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 86_400_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.reporter.reconcile();
  }
}
