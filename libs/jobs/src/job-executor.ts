import { Inject, Injectable, Logger } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { PermanentJobError } from './job-handler';
import { JobRegistry } from './job-registry';
import { OutboxRepository } from './outbox.repository';

export interface ClaimedJob {
  id: string;
  queue: string;
  name: string;
  data: { orgId: string | null };
  /** Attempts including this one. */
  attempts: number;
  max_attempts: number;
  generation: number;
}

export type JobOutcome = 'done' | 'retry' | 'dead';

/** Exponential backoff with jitter: base·2^(attempt-1), capped at an hour. */
export function backoffMs(base: number, attempt: number, random = Math.random()): number {
  const exp = Math.min(base * 2 ** Math.max(0, attempt - 1), 3_600_000);
  return Math.round(exp * (0.75 + random * 0.5));
}

/**
 * Runs one claimed job and records the outcome on its outbox row: done, back to pending after a backoff, or
 * dead. Shared by the in-process runner and the BullMQ processors, so both modes behave the same.
 */
@Injectable()
export class JobExecutor {
  private readonly logger = new Logger(JobExecutor.name);

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: OutboxRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  /** Runs the handler; throws its error (after recording it) so a caller like BullMQ can retry too. */
  async run(job: ClaimedJob): Promise<void> {
    const handler = this.registry.get(job.queue, job.name);
    if (!handler) throw new Error(`No handler registered for job ${job.queue}/${job.name}`);
    await handler.handle(job.data as never, { id: job.id, attempt: job.attempts, maxAttempts: job.max_attempts });
  }

  /** Runs and records: the in-process runner's whole step. Never throws. */
  async runAndRecord(job: ClaimedJob): Promise<JobOutcome> {
    try {
      await this.run(job);
      await this.markDone(job);
      return 'done';
    } catch (e) {
      return this.markFailed(job, e, true).catch((err: Error) => {
        this.logger.error(`could not record failure of job ${job.id}: ${err.message}`);
        return 'retry' as const;
      });
    }
  }

  async markDone(job: Pick<ClaimedJob, 'id' | 'generation'>): Promise<void> {
    await this.repo.markDone(job, this.clock.now());
  }

  /**
   * Records a failed attempt. With `reschedule` (in-process mode) the row goes back to pending after a backoff;
   * without it (BullMQ mode) BullMQ holds the retry and the row stays relayed. Out of attempts, or a
   * {@link PermanentJobError} → dead.
   */
  async markFailed(job: ClaimedJob, error: unknown, reschedule: boolean): Promise<JobOutcome> {
    const message = error instanceof Error ? error.message : String(error);
    const dead = job.attempts >= job.max_attempts || error instanceof PermanentJobError;
    const now = this.clock.nowMs();
    if (dead) {
      this.logger.error(`job ${job.queue}/${job.name} #${job.id} is dead after ${job.attempts} attempts: ${message}`);
      await this.repo.markDead(job, job.attempts, message.slice(0, 2000));
      return 'dead';
    }
    this.logger.warn(`job ${job.queue}/${job.name} #${job.id} failed (attempt ${job.attempts}/${job.max_attempts}): ${message}`);
    if (reschedule) {
      await this.repo.reschedule(job, job.attempts, message.slice(0, 2000), new Date(now + backoffMs(this.config.jobs.backoffMs, job.attempts)));
    } else {
      await this.repo.recordAttempt(job, job.attempts, message.slice(0, 2000), new Date(now + this.config.jobs.leaseMs));
    }
    return 'retry';
  }
}
