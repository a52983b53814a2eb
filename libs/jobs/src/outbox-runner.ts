import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { ClaimedJob, JobExecutor, JobOutcome } from './job-executor';
import { JobRegistry } from './job-registry';
import { OutboxRepository } from './outbox.repository';

/**
 * Embedded mode (no REDIS_URL): runs jobs straight from the outbox. Rows are claimed with `FOR UPDATE SKIP
 * LOCKED` under a lease, so several processes share the work and a crashed one's jobs are taken back when
 * the lease runs out. A process only takes jobs it has a handler for (mixed versions during a deploy).
 */
@Injectable()
export class OutboxRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRunner.name);
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: OutboxRepository,
    private readonly executor: JobExecutor,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.redis.url) this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Claims up to `limit` due jobs (or jobs whose lease ran out) and runs them. Returns the outcomes. */
  async tick(limit = this.config.jobs.concurrency): Promise<JobOutcome[]> {
    const jobs = await this.claim(limit);
    return Promise.all(jobs.map((j) => this.executor.runAndRecord(j)));
  }

  /** Marks due rows running under a lease; one statement, so a crash leaves nothing half-claimed. */
  async claim(limit: number): Promise<ClaimedJob[]> {
    const now = this.clock.nowMs();
    return this.repo.claim(new Date(now), new Date(now + this.config.jobs.leaseMs), limit, this.registry.keys());
  }

  private async run(): Promise<void> {
    while (this.running) {
      let busy = false;
      try {
        busy = (await this.tick()).length >= this.config.jobs.concurrency;
      } catch (e) {
        this.logger.warn(`outbox runner: ${(e as Error).message}`);
      }
      if (!busy && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.config.jobs.pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }
}
