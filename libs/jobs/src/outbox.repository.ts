import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { ClaimedJob } from './job-executor';
import type { JobData } from './job-handler';
import type { OutboxRow, OutboxStatus } from './outbox.service';

/** A new outbox row, with its times and attempt budget already decided by the caller. */
export interface NewOutboxRow {
  queue: string;
  name: string;
  data: JobData;
  dedupeKey: string | null;
  maxAttempts: number;
  runAt: Date;
  createdAt: Date;
}

/** A due pending row, locked for the relay's transaction. */
export interface PendingOutboxRow {
  id: string;
  queue: string;
  name: string;
  data: { orgId: string | null };
  attempts: number;
  max_attempts: number;
  generation: number;
}

/** What identifies one run of a job: a re-driven row has a new generation, so a stale run can't overwrite it. */
type RunRef = Pick<ClaimedJob, 'id' | 'generation'>;

const COLUMNS = 'id, queue, name, data, org_id, status, attempts, max_attempts, generation, last_error, created_at, run_at, done_at';

/** control.outbox: the job runtime's own table (writes, claims under leases, outcomes, dead-job admin). */
@Injectable()
export class OutboxRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** A transaction for callers that must hold rows locked across other work (the relay's push to Redis). */
  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** Inserts in `m`'s transaction. Returns the id, or null when (queue, name, dedupeKey) already exists. */
  async insert(m: EntityManager, r: NewOutboxRow): Promise<string | null> {
    const rows = (await m.query(
      `INSERT INTO control.outbox (queue, name, data, org_id, dedupe_key, max_attempts, run_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (queue, name, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
       RETURNING id`,
      [r.queue, r.name, JSON.stringify(r.data), r.data.orgId, r.dedupeKey, r.maxAttempts, r.runAt, r.createdAt],
    )) as Array<{ id: string }>;
    return rows[0]?.id ?? null;
  }

  async listDead(orgId: string | null, limit: number): Promise<OutboxRow[]> {
    return (await this.db.query(
      `SELECT ${COLUMNS}
         FROM control.outbox WHERE status = 'dead' AND ($1::uuid IS NULL OR org_id = $1) ORDER BY id DESC LIMIT $2`,
      [orgId, limit],
    )) as OutboxRow[];
  }

  async get(id: string): Promise<OutboxRow | null> {
    const rows = (await this.db.query(`SELECT ${COLUMNS}\n         FROM control.outbox WHERE id = $1`, [id])) as OutboxRow[];
    return rows[0] ?? null;
  }

  /** A dead row back to pending with a fresh set of attempts and a new generation. False if it isn't dead (or isn't that org's). */
  async redrive(id: string, runAt: Date, orgId: string | null): Promise<boolean> {
    const [, count] = (await this.db.query(
      `UPDATE control.outbox SET status = 'pending', attempts = 0, generation = generation + 1, run_at = $2,
              locked_until = NULL, relayed_at = NULL
        WHERE id = $1 AND status = 'dead' AND ($3::uuid IS NULL OR org_id = $3)`,
      [id, runAt, orgId],
    )) as [unknown, number];
    return count === 1;
  }

  async countByStatus(): Promise<Array<{ status: OutboxStatus; n: number }>> {
    return (await this.db.query(`SELECT status, count(*)::int AS n FROM control.outbox GROUP BY status`)) as Array<{ status: OutboxStatus; n: number }>;
  }

  async deleteDoneBefore(before: Date): Promise<void> {
    await this.db.query(`DELETE FROM control.outbox WHERE status = 'done' AND done_at < $1`, [before]);
  }

  /**
   * Marks due rows (or running rows whose lease ran out) of the given `queue/name` keys running under a lease;
   * one statement with `FOR UPDATE SKIP LOCKED`, so a crash leaves nothing half-claimed and processes share work.
   */
  async claim(now: Date, leaseUntil: Date, limit: number, keys: string[]): Promise<ClaimedJob[]> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows] = (await this.db.query(
      `UPDATE control.outbox o SET status = 'running', attempts = o.attempts + 1, locked_until = $2
        WHERE o.id IN (
          SELECT id FROM control.outbox
           WHERE ((status = 'pending' AND run_at <= $1) OR (status = 'running' AND locked_until < $1))
             AND queue || '/' || name = ANY($4::text[])
           ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING o.id, o.queue, o.name, o.data, o.attempts, o.max_attempts, o.generation`,
      [now, leaseUntil, limit, keys],
    )) as [ClaimedJob[], number];
    return rows;
  }

  /** Locks due pending rows of the given keys in `m`'s transaction (`FOR UPDATE SKIP LOCKED`). */
  async lockDuePending(m: EntityManager, now: Date, limit: number, keys: string[]): Promise<PendingOutboxRow[]> {
    return (await m.query(
      `SELECT id, queue, name, data, attempts, max_attempts, generation FROM control.outbox
          WHERE status = 'pending' AND run_at <= $1 AND queue || '/' || name = ANY($3::text[])
          ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit, keys],
    )) as PendingOutboxRow[];
  }

  async markRelayed(m: EntityManager, ids: string[], now: Date, leaseUntil: Date): Promise<void> {
    await m.query(`UPDATE control.outbox SET status = 'relayed', relayed_at = $2, locked_until = $3 WHERE id = ANY($1::bigint[])`, [ids, now, leaseUntil]);
  }

  /** Relayed rows whose lease ran out, oldest first. */
  async relayedPastLease(now: Date, limit: number): Promise<Array<{ id: string; queue: string; generation: number }>> {
    return (await this.db.query(
      `SELECT id, queue, generation FROM control.outbox WHERE status = 'relayed' AND locked_until < $1 ORDER BY id LIMIT $2`,
      [now, limit],
    )) as Array<{ id: string; queue: string; generation: number }>;
  }

  /** Relayed rows back to pending (their job was lost with Redis). */
  async unrelay(ids: string[]): Promise<void> {
    await this.db.query(`UPDATE control.outbox SET status = 'pending', locked_until = NULL WHERE id = ANY($1::bigint[]) AND status = 'relayed'`, [ids]);
  }

  async extendRelayedLease(ids: string[], leaseUntil: Date): Promise<void> {
    await this.db.query(`UPDATE control.outbox SET locked_until = $2 WHERE id = ANY($1::bigint[]) AND status = 'relayed'`, [ids, leaseUntil]);
  }

  async markDone(run: RunRef, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE control.outbox SET status = 'done', done_at = $3, locked_until = NULL, last_error = NULL
        WHERE id = $1 AND generation = $2`,
      [run.id, run.generation, at],
    );
  }

  async markDead(run: RunRef, attempts: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE control.outbox SET status = 'dead', attempts = $3, last_error = $4, locked_until = NULL
          WHERE id = $1 AND generation = $2`,
      [run.id, run.generation, attempts, error],
    );
  }

  /** A failed attempt in in-process mode: back to pending at `runAt`. */
  async reschedule(run: RunRef, attempts: number, error: string, runAt: Date): Promise<void> {
    await this.db.query(
      `UPDATE control.outbox SET status = 'pending', attempts = $3, last_error = $4, locked_until = NULL, run_at = $5
          WHERE id = $1 AND generation = $2`,
      [run.id, run.generation, attempts, error, runAt],
    );
  }

  /** A failed attempt in BullMQ mode: BullMQ holds the retry, the row stays relayed under a new lease. */
  async recordAttempt(run: RunRef, attempts: number, error: string, leaseUntil: Date): Promise<void> {
    await this.db.query(`UPDATE control.outbox SET attempts = $3, last_error = $4, locked_until = $5 WHERE id = $1 AND generation = $2`, [
      run.id,
      run.generation,
      attempts,
      error,
      leaseUntil,
    ]);
  }
}
