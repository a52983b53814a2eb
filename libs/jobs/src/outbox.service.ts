import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import type { JobData } from './job-handler';
import type { QueueName } from './job.constants';
import { OutboxRepository } from './outbox.repository';

export interface EnqueueJob<T extends JobData> {
  queue: QueueName;
  name: string;
  data: T;
  /** A second enqueue with the same (queue, name, dedupeKey) is a no-op (forever, not just while pending). */
  dedupeKey?: string;
  delayMs?: number;
  maxAttempts?: number;
}

export type OutboxStatus = 'pending' | 'running' | 'relayed' | 'done' | 'dead';

export interface OutboxRow {
  id: string;
  queue: string;
  name: string;
  data: JobData;
  org_id: string | null;
  status: OutboxStatus;
  attempts: number;
  max_attempts: number;
  generation: number;
  last_error: string | null;
  created_at: Date;
  run_at: Date;
  done_at: Date | null;
}

/**
 * The transactional outbox: `enqueue` writes the job with the caller's EntityManager, so it commits (or rolls
 * back) with the change it follows. The relay (Redis) or the in-process runner picks it up after commit.
 */
@Injectable()
export class OutboxService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: OutboxRepository,
    private readonly clock: Clock,
  ) {}

  /** Writes a job in the caller's transaction. Returns its id, or null when `dedupeKey` already exists. */
  async enqueue<T extends JobData>(manager: EntityManager, job: EnqueueJob<T>): Promise<string | null> {
    const now = this.clock.nowMs();
    return this.repo.insert(manager, {
      queue: job.queue,
      name: job.name,
      data: job.data,
      dedupeKey: job.dedupeKey ?? null,
      maxAttempts: job.maxAttempts ?? this.config.jobs.maxAttempts,
      runAt: new Date(now + (job.delayMs ?? 0)),
      createdAt: new Date(now),
    });
  }

  /** Dead jobs (all retries spent), newest first; of one org when given. */
  listDead(orgId?: string, limit = 100): Promise<OutboxRow[]> {
    return this.repo.listDead(orgId ?? null, limit);
  }

  get(id: string): Promise<OutboxRow | null> {
    return this.repo.get(id);
  }

  /** Sends a dead job round again with a fresh set of attempts. False if it isn't dead (or isn't that org's). */
  redrive(id: string, orgId?: string): Promise<boolean> {
    return this.repo.redrive(id, this.clock.now(), orgId ?? null);
  }

  /** Counts by status, for health and tests. */
  async counts(): Promise<Record<OutboxStatus, number>> {
    const rows = await this.repo.countByStatus();
    const out: Record<OutboxStatus, number> = { pending: 0, running: 0, relayed: 0, done: 0, dead: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }
}
