import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { BullQueues, bullJobId } from './bullmq-queues';
import { Clock } from '@plinth/common';
import { backoffMs } from './job-executor';
import { JobRegistry } from './job-registry';
import { OutboxRepository, PendingOutboxRow } from './outbox.repository';

/**
 * Redis mode: moves committed outbox rows onto BullMQ queues. Rows are locked with `FOR UPDATE SKIP LOCKED`,
 * pushed with a stable job id, then marked relayed in the same transaction: a relay killed mid-batch leaves
 * them pending, and pushing them again is deduplicated by BullMQ. Relayed rows whose job Redis no longer has
 * (flushed, restarted without persistence) are put back to pending by {@link OutboxRelay.sweep}. Only jobs
 * with a handler registered in this process are relayed (its workers are the ones that will run them).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastSweep = 0;
  /** Test seam: runs after the batch is on Redis and before it is marked relayed (throw to simulate a crash). */
  beforeCommit: ((ids: string[]) => Promise<void>) | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: OutboxRepository,
    private readonly queues: BullQueues,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.redis.url) this.start();
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

  /** Relays one batch of due pending rows. Returns how many. */
  async tick(limit = 500): Promise<number> {
    return this.repo.transaction(async (m) => {
      const now = this.clock.nowMs();
      const rows = await this.repo.lockDuePending(m, new Date(now), limit, this.registry.keys());
      if (rows.length === 0) return 0;
      const byQueue = new Map<string, PendingOutboxRow[]>();
      for (const r of rows) byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
      for (const [queue, batch] of byQueue) {
        await this.queues.queue(queue).addBulk(
          batch.map((r) => ({
            name: r.name,
            data: { outboxId: r.id, generation: r.generation, baseAttempts: r.attempts, maxAttempts: r.max_attempts, data: r.data },
            opts: {
              jobId: bullJobId(r.id, r.generation),
              attempts: Math.max(1, r.max_attempts - r.attempts),
              backoff: { type: 'exponential', delay: backoffMs(this.config.jobs.backoffMs, 1, 0.5) },
              removeOnComplete: true,
              removeOnFail: true,
            },
          })),
        );
      }
      const ids = rows.map((r) => r.id);
      await this.beforeCommit?.(ids);
      await this.repo.markRelayed(m, ids, new Date(now), new Date(now + this.config.jobs.leaseMs));
      return rows.length;
    });
  }

  /**
   * Relayed rows past their lease: if Redis still has the job (waiting, delayed, active), extend the lease;
   * if not, the job was lost with Redis, so the row goes back to pending and is relayed again.
   */
  async sweep(limit = 1000): Promise<{ requeued: number; extended: number }> {
    const now = this.clock.nowMs();
    const rows = await this.repo.relayedPastLease(new Date(now), limit);
    const lost: string[] = [];
    const alive: string[] = [];
    for (const r of rows) {
      const state = await this.queues.queue(r.queue).getJobState(bullJobId(r.id, r.generation));
      (state === 'unknown' || state === 'completed' || state === 'failed' ? lost : alive).push(r.id);
    }
    if (lost.length) {
      this.logger.warn(`${lost.length} relayed job(s) missing from Redis; relaying them again`);
      await this.repo.unrelay(lost);
    }
    if (alive.length) {
      await this.repo.extendRelayedLease(alive, new Date(now + this.config.jobs.leaseMs));
    }
    return { requeued: lost.length, extended: alive.length };
  }

  private async run(): Promise<void> {
    while (this.running) {
      let busy = false;
      try {
        busy = (await this.tick()) >= 500;
        if (Date.now() - this.lastSweep > Math.min(this.config.jobs.leaseMs / 2, 30_000)) {
          this.lastSweep = Date.now();
          await this.sweep();
        }
      } catch (e) {
        this.logger.warn(`outbox relay: ${(e as Error).message}`);
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
