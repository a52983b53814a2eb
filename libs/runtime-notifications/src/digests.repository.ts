import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface DigestRow {
  id: string;
  project_id: string;
  template: string;
  digest_key: string;
  target: string;
  user_id: string | null;
  topic: string | null;
  status: 'open' | 'closed';
  message_id: string | null;
  created_at: Date;
  closes_at: Date;
}

export interface DigestItemRow {
  message_id: string;
  data: Record<string, unknown>;
  title: string | null;
  body: string | null;
  created_at: Date;
}

/** `control.notification_digests` and their items: open digests collect sends until their window closes. */
@Injectable()
export class DigestsRepository {
  /**
   * The open digest of (project, template, key, address), opened now if there is none, locked for the rest of the
   * transaction (so its flush waits for this send to join); `fresh` when this call opened it.
   */
  async open(m: EntityManager, d: Omit<DigestRow, 'status' | 'message_id'>): Promise<{ id: string; fresh: boolean }> {
    const rows = (await m.query(
      `INSERT INTO control.notification_digests (id, project_id, template, digest_key, target, user_id, topic, created_at, closes_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (project_id, template, digest_key, target) WHERE status = 'open' DO UPDATE SET target = EXCLUDED.target
       RETURNING id, (xmax = 0) AS fresh`,
      [d.id, d.project_id, d.template, d.digest_key, d.target, d.user_id, d.topic, d.created_at, d.closes_at],
    )) as Array<{ id: string; fresh: boolean }>;
    return rows[0];
  }

  /** Whether a message already joined a digest to `target` (a re-run of a fan-out joins nothing twice). */
  async joined(m: EntityManager, messageId: string, target: string): Promise<boolean> {
    const rows = (await m.query(
      `SELECT 1 FROM control.notification_digest_items i JOIN control.notification_digests d ON d.id = i.digest_id WHERE i.message_id = $1 AND d.target = $2 LIMIT 1`,
      [messageId, target],
    )) as unknown[];
    return rows.length > 0;
  }

  async addItem(m: EntityManager, digestId: string, i: DigestItemRow): Promise<void> {
    await m.query(
      `INSERT INTO control.notification_digest_items (digest_id, message_id, data, title, body, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [digestId, i.message_id, JSON.stringify(i.data ?? {}), i.title, i.body, i.created_at],
    );
  }

  async lock(m: EntityManager, id: string): Promise<DigestRow | null> {
    const rows = (await m.query(`SELECT * FROM control.notification_digests WHERE id = $1 FOR UPDATE`, [id])) as DigestRow[];
    return rows[0] ?? null;
  }

  /** A digest's sends, oldest first. */
  async items(m: EntityManager, id: string): Promise<DigestItemRow[]> {
    return (await m.query(`SELECT message_id, data, title, body, created_at FROM control.notification_digest_items WHERE digest_id = $1 ORDER BY created_at, message_id`, [id])) as DigestItemRow[];
  }

  async close(m: EntityManager, id: string, messageId: string): Promise<void> {
    await m.query(`UPDATE control.notification_digests SET status = 'closed', message_id = $2 WHERE id = $1`, [id, messageId]);
  }
}
