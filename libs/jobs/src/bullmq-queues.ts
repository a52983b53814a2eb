import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

/** What the relay puts on a BullMQ job: the outbox row it came from and the handler's data. */
export interface RelayedJobData {
  outboxId: string;
  generation: number;
  /** Attempts already spent before this relay (a re-relay after Redis lost the job keeps counting). */
  baseAttempts: number;
  maxAttempts: number;
  data: { orgId: string | null };
}

/** BullMQ job id of an outbox row: stable per (row, generation), so a re-relay of a job Redis still has is a no-op. */
export const bullJobId = (outboxId: string, generation: number) => `o${outboxId}-g${generation}`;

/** BullMQ queues by name over one blocking-safe connection (REDIS_URL), created on first use. */
@Injectable()
export class BullQueues implements OnApplicationShutdown {
  private connection: Redis | undefined;
  private readonly queues = new Map<string, Queue<RelayedJobData>>();

  constructor(@Inject(PLINTH_CONFIG) private readonly config: PlinthConfig) {}

  get prefix(): string {
    return `${this.config.redis.prefix}:bull`;
  }

  /** A fresh connection with BullMQ's required options. */
  newConnection(): Redis {
    if (!this.config.redis.url) throw new Error('BullMQ needs REDIS_URL');
    const c = new Redis(this.config.redis.url, { maxRetriesPerRequest: null });
    c.on('error', () => undefined); // BullMQ reports and reconnects.
    return c;
  }

  queue(name: string): Queue<RelayedJobData> {
    let q = this.queues.get(name);
    if (!q) {
      this.connection ??= this.newConnection();
      q = new Queue<RelayedJobData>(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.queues.clear();
    this.connection?.disconnect();
    this.connection = undefined;
  }
}
