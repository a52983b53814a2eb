import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { REREAD_MS, UsageRepository } from './usage.repository';

export const ROLLUP_USAGE_JOB = 'rollup-usage';
const HOUR = 3600_000;
/** Hours are rolled up once they ended this long ago, leaving room for late flushes. */
const SETTLE_MS = 10 * 60_000;
/** The last hours are recomputed on every run, absorbing flushes that were retried late. */
const REROLL_MS = REREAD_MS;
const KEEP_MINUTES_MS = 48 * HOUR;

/** Hourly: per-minute counters → per-hour rows (idempotent recompute); prunes old minute rows and batch ids. */
@Injectable()
export class RollupUsageJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.usage;
  readonly name = ROLLUP_USAGE_JOB;

  constructor(
    private readonly repo: UsageRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: HOUR, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  async run(): Promise<number> {
    const now = this.clock.nowMs();
    const to = new Date(Math.floor((now - SETTLE_MS) / HOUR) * HOUR);
    const watermark = await this.repo.rolledThrough();
    const earliest = watermark ? new Date(watermark.getTime() - REROLL_MS) : await this.repo.earliestMinute();
    if (!earliest || earliest >= to) return 0;
    const from = new Date(Math.floor(earliest.getTime() / HOUR) * HOUR);
    return this.repo.rollup(from, to, new Date(now - KEEP_MINUTES_MS));
  }
}
