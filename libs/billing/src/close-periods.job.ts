import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BILLING_JOBS } from './billing.constants';
import { PeriodCloserService } from './period-closer.service';

/** Hourly: invoice ended ledger-only periods and apply downgrades that were waiting for them. */
@Injectable()
export class ClosePeriodsJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.closePeriods;

  constructor(
    private readonly registry: JobRegistry,
    private readonly closer: PeriodCloserService,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 3600_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.closer.run();
  }
}
