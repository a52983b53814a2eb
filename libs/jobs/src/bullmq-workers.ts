import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { BullQueues, RelayedJobData } from './bullmq-queues';
import { ClaimedJob, JobExecutor } from './job-executor';
import { PermanentJobError } from './job-handler';
import { JobRegistry } from './job-registry';
import { QUEUE_NAMES } from './job.constants';

/**
 * Redis mode: one BullMQ worker per queue, running the registered handlers. Success marks the outbox row done;
 * the last failed attempt marks it dead (BullMQ holds the retries and their backoff in between).
 */
@Injectable()
export class BullWorkers implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BullWorkers.name);
  private readonly workers: Worker[] = [];
  private readonly connections: Redis[] = [];

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly queues: BullQueues,
    private readonly executor: JobExecutor,
    private readonly registry: JobRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.redis.url) this.start();
  }

  start(): void {
    if (this.workers.length) return;
    const names = new Set<string>([...QUEUE_NAMES, ...this.registry.queues()]);
    for (const name of names) {
      const connection = this.queues.newConnection();
      this.connections.push(connection);
      const worker = new Worker<RelayedJobData>(name, (job) => this.process(job), {
        connection,
        prefix: this.queues.prefix,
        concurrency: this.config.jobs.concurrency,
      });
      worker.on('error', (e) => this.logger.warn(`worker ${name}: ${e.message}`));
      this.workers.push(worker);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close().catch(() => undefined)));
    // BullMQ leaves connections it was given open.
    for (const c of this.connections.splice(0)) c.disconnect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  private async process(job: Job<RelayedJobData>): Promise<void> {
    const d = job.data;
    const claimed: ClaimedJob = {
      id: d.outboxId,
      queue: job.queueName,
      name: job.name,
      data: d.data,
      attempts: d.baseAttempts + job.attemptsMade + 1,
      max_attempts: d.maxAttempts,
      generation: d.generation,
    };
    try {
      await this.executor.run(claimed);
    } catch (e) {
      await this.executor.markFailed(claimed, e, false);
      // BullMQ's own way of saying "no more attempts" (the outbox row is already dead).
      throw e instanceof PermanentJobError ? new UnrecoverableError(e.message) : e;
    }
    await this.executor.markDone(claimed);
  }
}
