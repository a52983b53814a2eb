import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { JobRegistry } from './job-registry';
import { OutboxRepository } from './outbox.repository';
import { OutboxService } from './outbox.service';

const TICK_MS = 15_000;

/**
 * Repeatable schedules, through the outbox: each tick enqueues every schedule with a dedupe key naming its
 * current window, so any number of workers enqueue each run once, and a run survives losing Redis like any job.
 */
@Injectable()
export class JobScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobScheduler.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repo: OutboxRepository,
    private readonly registry: JobRegistry,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    const run = () => void this.tick().catch((e: Error) => this.logger.warn(`scheduler: ${e.message}`));
    this.timer = setInterval(run, TICK_MS);
    this.timer.unref();
    run();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Enqueues each schedule's current window (no-op for windows already enqueued). Returns how many were new. */
  async tick(): Promise<number> {
    let added = 0;
    const now = this.clock.nowMs();
    for (const s of this.registry.schedules()) {
      const window = Math.floor(now / s.everyMs);
      const id = await this.repo.transaction((m) =>
        this.outbox.enqueue(m, {
          queue: s.queue,
          name: s.name,
          data: s.data,
          dedupeKey: `schedule:${s.everyMs}:${window}`,
        }),
      );
      if (id) added++;
    }
    return added;
  }
}
