import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '@plinth/common';
import type { JobData, JobHandler } from './job-handler';
import { JobRegistry } from './job-registry';
import { JOB_NAMES, QUEUES } from './job.constants';
import { OutboxRepository } from './outbox.repository';

const KEEP_DONE_MS = 7 * 86400_000;

/** Daily: deletes done outbox rows older than a week. Dead rows stay until re-driven or removed by hand. */
@Injectable()
export class PruneOutboxJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.maintenance;
  readonly name = JOB_NAMES.pruneOutbox;

  constructor(
    private readonly repo: OutboxRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 86400_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.repo.deleteDoneBefore(new Date(this.clock.nowMs() - KEEP_DONE_MS));
  }
}
