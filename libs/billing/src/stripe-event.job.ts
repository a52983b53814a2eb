import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BILLING_JOBS } from './billing.constants';
import { StripeClient } from './stripe-client';
import { StripeEventJobData, StripeEventsService } from './stripe-events.service';

/** One received webhook event, processed from the current state of its object. */
@Injectable()
export class StripeEventJob implements JobHandler<StripeEventJobData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.stripeEvent;

  constructor(
    private readonly registry: JobRegistry,
    private readonly stripe: StripeClient,
    private readonly events: StripeEventsService,
  ) {}

  onModuleInit(): void {
    // Only a process that can reach Stripe takes this job (the runners only claim jobs they have a handler for).
    if (!this.stripe.enabled) return;
    this.registry.register(this);
  }

  handle(data: StripeEventJobData): Promise<void> {
    return this.events.process(data);
  }
}
