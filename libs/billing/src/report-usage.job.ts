import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BILLING_JOBS } from './billing.constants';
import { StripeClient } from './stripe-client';
import { UsageReporterService } from './usage-reporter.service';

/** Hourly: queue the last complete hours per org and meter as meter events and send them to Stripe. */
@Injectable()
export class ReportUsageJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.reportUsage;

  constructor(
    private readonly registry: JobRegistry,
    private readonly stripe: StripeClient,
    private readonly reporter: UsageReporterService,
  ) {}

  onModuleInit(): void {
    // Only a process that can reach Stripe takes this job (the runners only claim jobs they have a handler for).
    if (!this.stripe.enabled) return;
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 3600_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    const { pending } = await this.reporter.report();
    // Failing the job retries it with backoff; reports still pending then go out with the next hour's run.
    if (pending > 0) throw new Error(`${pending} meter event(s) not accepted by Stripe yet`);
  }
}
