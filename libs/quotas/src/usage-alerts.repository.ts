import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/** One alert's identity: a project's crossing of a threshold of a meter's amount in a period. */
export interface UsageAlertKey {
  projectId: string;
  periodStart: Date | string;
  meter: string;
  kind: string;
  threshold: number;
}

/** What delivering an alert needs to know: how far it got, and the project's webhook. */
export interface UsageAlertDelivery {
  notified_at: Date | null;
  emailed_at: Date | null;
  alert_webhook_url: string | null;
}

const params = (k: UsageAlertKey) => [k.projectId, k.periodStart, k.meter, k.kind, k.threshold];
const WHERE = 'project_id = $1 AND period_start = $2 AND meter = $3 AND kind = $4 AND threshold = $5';

/** control.usage_alerts: each crossing recorded once per period (primary key), then its delivery progress. */
@Injectable()
export class UsageAlertsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Records the crossing in `m`'s transaction; false when it was already recorded. */
  async record(m: EntityManager, k: UsageAlertKey, used: number, amount: number, at: Date): Promise<boolean> {
    const inserted = (await m.query(
      `INSERT INTO control.usage_alerts (project_id, period_start, meter, kind, threshold, used, amount, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING 1`,
      [...params(k), used, amount, at],
    )) as unknown[];
    return inserted.length > 0;
  }

  /** The alert's delivery state and the project's alert webhook, or null if there is no such alert. */
  async delivery(k: UsageAlertKey): Promise<UsageAlertDelivery | null> {
    const rows = (await this.db.query(
      `SELECT a.notified_at, a.emailed_at, l.alert_webhook_url FROM control.usage_alerts a
         LEFT JOIN control.project_limits l ON l.project_id = a.project_id
        WHERE a.project_id = $1 AND a.period_start = $2 AND a.meter = $3 AND a.kind = $4 AND a.threshold = $5`,
      params(k),
    )) as UsageAlertDelivery[];
    return rows[0] ?? null;
  }

  async markEmailed(k: UsageAlertKey, at: Date): Promise<void> {
    await this.db.query(`UPDATE control.usage_alerts SET emailed_at = $6 WHERE ${WHERE} AND emailed_at IS NULL`, [...params(k), at]);
  }

  async markNotified(k: UsageAlertKey, at: Date): Promise<void> {
    await this.db.query(`UPDATE control.usage_alerts SET notified_at = $6 WHERE ${WHERE} AND notified_at IS NULL`, [...params(k), at]);
  }
}
