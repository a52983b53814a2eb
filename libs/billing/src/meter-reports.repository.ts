import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/** A report waiting for Stripe, with the customer it is for. */
export interface PendingReport {
  org_id: string;
  meter: string;
  hour: Date;
  seq: number;
  identifier: string;
  quantity: string;
  stripe_customer_id: string;
}

/** The fields naming one report: (org, meter, hour, seq); seq 0 is the hour's report, later ones corrections. */
type ReportKey = Pick<PendingReport, 'org_id' | 'meter' | 'hour' | 'seq'>;

/** control.meter_reports: hourly usage reports to Stripe and their corrections, until Stripe accepts them. */
@Injectable()
export class MeterReportsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Records the hour's first report in `m`'s transaction; false when it was already recorded. */
  async insertHourly(m: EntityManager, orgId: string, meter: string, hour: Date, identifier: string, quantity: number, at: Date): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.meter_reports (org_id, meter, hour, seq, identifier, quantity, created_at) VALUES ($1, $2, $3, 0, $4, $5, $6)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [orgId, meter, hour, identifier, quantity, at],
    )) as unknown[];
    return rows.length > 0;
  }

  /** The next correction number of an (org, meter, hour). */
  async nextSeq(orgId: string, meter: string, hour: Date): Promise<number> {
    const [row] = (await this.db.query(`SELECT coalesce(max(seq), 0) + 1 AS seq FROM control.meter_reports WHERE org_id = $1 AND meter = $2 AND hour = $3`, [
      orgId,
      meter,
      hour,
    ])) as Array<{ seq: number }>;
    return row.seq;
  }

  async insertCorrection(orgId: string, meter: string, hour: Date, seq: number, identifier: string, quantity: number, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO control.meter_reports (org_id, meter, hour, seq, identifier, quantity, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [orgId, meter, hour, seq, identifier, quantity, at],
    );
  }

  /** Pending reports of orgs with a Stripe customer (of one org, if given), oldest hour first. */
  async pending(orgId: string | null, limit: number): Promise<PendingReport[]> {
    return (await this.db.query(
      `SELECT r.org_id, r.meter, r.hour, r.seq, r.identifier, r.quantity::text AS quantity, a.stripe_customer_id
         FROM control.meter_reports r JOIN control.billing_accounts a ON a.org_id = r.org_id
        WHERE r.status = 'pending' AND a.stripe_customer_id IS NOT NULL AND ($1::uuid IS NULL OR r.org_id = $1)
        ORDER BY r.hour, r.org_id, r.meter, r.seq LIMIT $2`,
      [orgId, limit],
    )) as PendingReport[];
  }

  async countPending(orgId: string | null): Promise<number> {
    const [row] = (await this.db.query(`SELECT count(*)::int AS n FROM control.meter_reports WHERE status = 'pending' AND ($1::uuid IS NULL OR org_id = $1)`, [
      orgId,
    ])) as Array<{ n: number }>;
    return row.n;
  }

  /** (meter, hour) of the org's pending reports. */
  async pendingHours(orgId: string): Promise<Array<{ meter: string; hour: Date }>> {
    return (await this.db.query(`SELECT meter, hour FROM control.meter_reports WHERE org_id = $1 AND status = 'pending'`, [orgId])) as Array<{ meter: string; hour: Date }>;
  }

  /** Orgs with reports still pending from before `before`: how many, and the oldest hour. */
  async pendingBefore(before: Date): Promise<Array<{ org_id: string; n: number; oldest: Date }>> {
    return (await this.db.query(
      `SELECT org_id, count(*)::int AS n, min(hour) AS oldest FROM control.meter_reports WHERE status = 'pending' AND hour < $1 GROUP BY org_id`,
      [before],
    )) as Array<{ org_id: string; n: number; oldest: Date }>;
  }

  async markAccepted(r: ReportKey, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE control.meter_reports SET status = 'accepted', accepted_at = $5, attempts = attempts + 1, last_error = NULL
        WHERE org_id = $1 AND meter = $2 AND hour = $3 AND seq = $4`,
      [r.org_id, r.meter, r.hour, r.seq, at],
    );
  }

  async markFailed(r: ReportKey, error: string): Promise<void> {
    await this.db.query(`UPDATE control.meter_reports SET attempts = attempts + 1, last_error = $5 WHERE org_id = $1 AND meter = $2 AND hour = $3 AND seq = $4`, [
      r.org_id,
      r.meter,
      r.hour,
      r.seq,
      error,
    ]);
  }
}
