import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import type { JobData } from './job-handler';
import type { QueueName } from './job.constants';

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
    @InjectDataSource() private readonly db: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Writes a job in the caller's transaction. Returns its id, or null when `dedupeKey` already exists. */
  async enqueue<T extends JobData>(manager: EntityManager, job: EnqueueJob<T>): Promise<string | null> {
    const now = this.clock.nowMs();
    const rows = (await manager.query(
      `INSERT INTO control.outbox (queue, name, data, org_id, dedupe_key, max_attempts, run_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (queue, name, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
       RETURNING id`,
      [
        job.queue,
        job.name,
        JSON.stringify(job.data),
        job.data.orgId,
        job.dedupeKey ?? null,
        job.maxAttempts ?? this.config.jobs.maxAttempts,
        new Date(now + (job.delayMs ?? 0)),
        new Date(now),
      ],
    )) as Array<{ id: string }>;
    return rows[0]?.id ?? null;
  }

  /** Dead jobs (all retries spent), newest first; of one org when given. */
  async listDead(orgId?: string, limit = 100): Promise<OutboxRow[]> {
    return (await this.db.query(
      `SELECT id, queue, name, data, org_id, status, attempts, max_attempts, generation, last_error, created_at, run_at, done_at
         FROM control.outbox WHERE status = 'dead' AND ($1::uuid IS NULL OR org_id = $1) ORDER BY id DESC LIMIT $2`,
      [orgId ?? null, limit],
    )) as OutboxRow[];
  }

  async get(id: string): Promise<OutboxRow | null> {
    const rows = (await this.db.query(
      `SELECT id, queue, name, data, org_id, status, attempts, max_attempts, generation, last_error, created_at, run_at, done_at
         FROM control.outbox WHERE id = $1`,
      [id],
    )) as OutboxRow[];
    return rows[0] ?? null;
  }

  /** Sends a dead job round again with a fresh set of attempts. False if it isn't dead (or isn't that org's). */
  async redrive(id: string, orgId?: string): Promise<boolean> {
    const [, count] = (await this.db.query(
      `UPDATE control.outbox SET status = 'pending', attempts = 0, generation = generation + 1, run_at = $2,
              locked_until = NULL, relayed_at = NULL
        WHERE id = $1 AND status = 'dead' AND ($3::uuid IS NULL OR org_id = $3)`,
      [id, this.clock.now(), orgId ?? null],
    )) as [unknown, number];
    return count === 1;
  }

  /** Counts by status, for health and tests. */
  async counts(): Promise<Record<OutboxStatus, number>> {
    const rows = (await this.db.query(`SELECT status, count(*)::int AS n FROM control.outbox GROUP BY status`)) as Array<{
      status: OutboxStatus;
      n: number;
    }>;
    const out: Record<OutboxStatus, number> = { pending: 0, running: 0, relayed: 0, done: 0, dead: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }
}
