import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/** control.stripe_events: each webhook event received once (by Stripe's id), and when it was applied. */
@Injectable()
export class StripeEventsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Records the event in `m`'s transaction; false when it was already received. */
  async record(m: EntityManager, e: { id: string; type: string; created: Date; receivedAt: Date; processedAt: Date | null }): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.stripe_events (id, type, created, received_at, processed_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING 1`,
      [e.id, e.type, e.created, e.receivedAt, e.processedAt],
    )) as unknown[];
    return rows.length > 0;
  }

  async markProcessed(id: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE control.stripe_events SET processed_at = $2 WHERE id = $1`, [id, at]);
  }
}
