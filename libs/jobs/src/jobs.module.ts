import { Module } from '@nestjs/common';
import { BullQueues } from './bullmq-queues';
import { BullWorkers } from './bullmq-workers';
import { JobExecutor } from './job-executor';
import { JobScheduler } from './job-scheduler';
import { OutboxModule } from './outbox.module';
import { OutboxRelay } from './outbox-relay';
import { OutboxRunner } from './outbox-runner';
import { PruneOutboxJob } from './prune-outbox.job';

/**
 * Background processors and schedules; the worker app runs them, and so does the api in the embedded default.
 * With REDIS_URL: the outbox relay plus BullMQ workers; without: the in-process outbox runner.
 */
@Module({
  imports: [OutboxModule],
  providers: [JobExecutor, OutboxRunner, BullQueues, OutboxRelay, BullWorkers, JobScheduler, PruneOutboxJob],
  exports: [JobExecutor, OutboxRunner, BullQueues, OutboxRelay, BullWorkers, JobScheduler],
})
export class JobsModule {}
