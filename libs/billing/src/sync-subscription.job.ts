import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BILLING_JOBS } from './billing.constants';
import { StripeClient } from './stripe-client';
import { ProrationBehavior, SubscriptionSyncService } from './subscription-sync.service';

export interface SyncSubscriptionData {
  orgId: string;
  proration: ProrationBehavior;
}

/** After a plan change (written to the outbox with it): make the Stripe customer and subscription follow. */
@Injectable()
export class SyncSubscriptionJob implements JobHandler<SyncSubscriptionData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.syncSubscription;

  constructor(
    private readonly registry: JobRegistry,
    private readonly stripe: StripeClient,
    private readonly sync: SubscriptionSyncService,
  ) {}

  onModuleInit(): void {
    // Only a process that can reach Stripe takes this job (the runners only claim jobs they have a handler for).
    if (!this.stripe.enabled) return;
    this.registry.register(this);
  }

  handle(data: SyncSubscriptionData): Promise<void> {
    return this.sync.sync(data.orgId, data.proration);
  }
}
