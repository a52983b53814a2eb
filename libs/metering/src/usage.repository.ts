import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface UsageRow {
  projectId: string;
  meter: string;
  minute: number;
  quantity: number;
}

export type Granularity = 'minute' | 'hour' | 'day';

/** Kept equal to the roll-up's re-roll window (RollupUsageJob). */
export const REREAD_MS = 2 * 3600_000;

export interface SeriesPoint {
  project_id: string;
  bucket: Date;
  meter: string;
  quantity: number;
}

/** Data access for usage counters; every write is additive and keyed by a batch id, so retries add once. */
@Injectable()
export class UsageRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Adds a batch in one statement: the batch id is recorded and the counters upserted together, or, if the batch
   * id is already there (a retried flush whose first try did commit), nothing happens. Returns whether it applied.
   */
  async applyBatch(batchId: string, rows: UsageRow[]): Promise<boolean> {
    const result = (await this.db.query(
      `WITH b AS (
         INSERT INTO control.usage_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING batch_id
       ), u AS (
         INSERT INTO control.usage_minute AS um (project_id, meter, minute, quantity)
         SELECT p, m, t, q FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::numeric[]) AS x(p, m, t, q), b
         ON CONFLICT (project_id, minute, meter) DO UPDATE SET quantity = um.quantity + EXCLUDED.quantity
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM b)::int AS applied`,
      [batchId, rows.map((r) => r.projectId), rows.map((r) => r.meter), rows.map((r) => new Date(r.minute)), rows.map((r) => r.quantity)],
    )) as Array<{ applied: number }>;
    return result[0]?.applied === 1;
  }

  /**
   * Where reads switch from usage_hour to usage_minute: two hours before the roll-up watermark, the window every
   * roll-up recomputes, so a flush that lands late in an already rolled hour is still read from its minute rows.
   */
  private async readBoundary(): Promise<Date | string> {
    const w = await this.rolledThrough();
    return w ? new Date(w.getTime() - REREAD_MS) : '-infinity';
  }

  /** The hour before which usage_hour is complete (-infinity before the first roll-up). */
  async rolledThrough(): Promise<Date | null> {
    const rows = (await this.db.query(`SELECT rolled_through FROM control.usage_rollup WHERE id = 1`)) as Array<{ rolled_through: Date }>;
    return rows[0]?.rolled_through ?? null;
  }

  /** Totals per base meter of some projects over [from, to). */
  async totals(projectIds: string[], from: Date, to: Date): Promise<Array<{ project_id: string; meter: string; quantity: number }>> {
    const boundary = await this.readBoundary();
    return (await this.db.query(
      `SELECT project_id, split_part(meter, ':', 1) AS meter, sum(q)::float8 AS quantity FROM (
         SELECT project_id, meter, quantity q FROM control.usage_hour
          WHERE project_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3 AND hour < $4
         UNION ALL
         SELECT project_id, meter, quantity FROM control.usage_minute
          WHERE project_id = ANY($1::uuid[]) AND minute >= greatest($2, $4) AND minute < $3
       ) u GROUP BY 1, 2`,
      [projectIds, from, to, boundary],
    )) as Array<{ project_id: string; meter: string; quantity: number }>;
  }

  /** Time series of some projects, by bucket and full meter name (`requests:rest`). */
  async series(projectIds: string[], from: Date, to: Date, granularity: Granularity, meter?: string): Promise<SeriesPoint[]> {
    const boundary = granularity === 'minute' ? '-infinity' : await this.readBoundary();
    const meterFilter = meter ? `AND (meter = $6 OR meter LIKE $6 || ':%')` : `AND $6::text IS NULL`;
    return (await this.db.query(
      `SELECT project_id, date_trunc($5, t, 'UTC') AS bucket, meter, sum(q)::float8 AS quantity FROM (
         SELECT project_id, hour AS t, meter, quantity q FROM control.usage_hour
          WHERE project_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3 AND hour < $4 ${meterFilter}
         UNION ALL
         SELECT project_id, minute, meter, quantity FROM control.usage_minute
          WHERE project_id = ANY($1::uuid[]) AND minute >= greatest($2, $4) AND minute < $3 ${meterFilter}
       ) u GROUP BY 1, 2, 3 ORDER BY 2, 3`,
      [projectIds, from, to, boundary, granularity, meter ?? null],
    )) as SeriesPoint[];
  }

  /** Latest sample of each gauge meter per project. */
  async latestSamples(projectIds: string[]): Promise<Array<{ project_id: string; meter: string; value: number; sampled_at: Date }>> {
    return (await this.db.query(
      `SELECT DISTINCT ON (project_id, meter) project_id, meter, value::float8 AS value, sampled_at
         FROM control.usage_samples WHERE project_id = ANY($1::uuid[]) ORDER BY project_id, meter, sampled_on DESC`,
      [projectIds],
    )) as Array<{ project_id: string; meter: string; value: number; sampled_at: Date }>;
  }

  async recordSample(projectId: string, meter: string, value: number, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO control.usage_samples (project_id, meter, sampled_on, value, sampled_at) VALUES ($1, $2, ($4 AT TIME ZONE 'UTC')::date, $3, $4)
       ON CONFLICT (project_id, meter, sampled_on) DO UPDATE SET value = EXCLUDED.value, sampled_at = EXCLUDED.sampled_at`,
      [projectId, meter, value, at],
    );
  }

  /**
   * Recomputes usage_hour for [from, to) from the minute rows (absolute values: re-running is harmless),
   * advances the watermark, and drops minute rows and batch ids older than `keepBefore`.
   */
  async rollup(from: Date, to: Date, keepBefore: Date): Promise<number> {
    return this.db.transaction(async (m) => {
      const rows = (await m.query(
        `INSERT INTO control.usage_hour AS uh (project_id, meter, hour, quantity)
         SELECT project_id, meter, date_trunc('hour', minute, 'UTC'), sum(quantity) FROM control.usage_minute
          WHERE minute >= $1 AND minute < $2 GROUP BY 1, 2, 3
         ON CONFLICT (project_id, hour, meter) DO UPDATE SET quantity = EXCLUDED.quantity
         RETURNING 1`,
        [from, to],
      )) as unknown[];
      await m.query(
        `INSERT INTO control.usage_rollup (id, rolled_through) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET rolled_through = greatest(control.usage_rollup.rolled_through, EXCLUDED.rolled_through)`,
        [to],
      );
      const cut = keepBefore < from ? keepBefore : from;
      await m.query(`DELETE FROM control.usage_minute WHERE minute < $1`, [cut]);
      await m.query(`DELETE FROM control.usage_batches WHERE created_at < $1`, [cut]);
      return rows.length;
    });
  }

  async earliestMinute(): Promise<Date | null> {
    const rows = (await this.db.query(`SELECT min(minute) AS m FROM control.usage_minute`)) as Array<{ m: Date | null }>;
    return rows[0]?.m ?? null;
  }
}
