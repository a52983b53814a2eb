import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface PushSubscriptionRow {
  id: string;
  project_id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: Date;
}

/** VAPID keys and push subscriptions, always by project (subscriptions also by user). */
@Injectable()
export class PushRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async vapid(projectId: string): Promise<{ public_key: string; private_sealed: string } | null> {
    const rows = (await this.db.query(`SELECT public_key, private_sealed FROM control.notification_vapid_keys WHERE project_id = $1`, [projectId])) as Array<{ public_key: string; private_sealed: string }>;
    return rows[0] ?? null;
  }

  /** Stores the project's key pair unless one exists (two first requests race: one pair wins). */
  async insertVapid(projectId: string, publicKey: string, privateSealed: string, at: Date): Promise<void> {
    await this.db.query(`INSERT INTO control.notification_vapid_keys (project_id, public_key, private_sealed, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [projectId, publicKey, privateSealed, at]);
  }

  /**
   * Stores a new project's key pair in its provisioning transaction (`sql`, as the cluster's admin): the project row
   * is read there by ref, so the keys commit with the project. False when that transaction can't see the control
   * schema or the project (a project placed on another cluster): it gets its keys on first use instead.
   */
  async insertVapidAtProvisioning(sql: { query(sql: string, params?: unknown[]): Promise<unknown> }, ref: string, make: (projectId: string) => { publicKey: string; privateSealed: string }, at: Date): Promise<boolean> {
    const here = (await sql.query(`SELECT to_regclass('control.notification_vapid_keys') IS NOT NULL AS ok`)) as Array<{ ok: boolean }>;
    if (!here[0]?.ok) return false;
    const project = (await sql.query(`SELECT id FROM control.projects WHERE ref = $1`, [ref])) as Array<{ id: string }>;
    if (!project.length) return false;
    const keys = make(project[0].id);
    await sql.query(`INSERT INTO control.notification_vapid_keys (project_id, public_key, private_sealed, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [project[0].id, keys.publicKey, keys.privateSealed, at]);
    return true;
  }

  /** Adds or takes over the subscription of `endpoint` in this project (a browser re-subscribing, maybe for another user). */
  async upsert(r: PushSubscriptionRow): Promise<PushSubscriptionRow> {
    const rows = (await this.db.query(
      `INSERT INTO control.notification_push_subscriptions (id, project_id, user_id, endpoint, p256dh, auth, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (project_id, endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth
       RETURNING *`,
      [r.id, r.project_id, r.user_id, r.endpoint, r.p256dh, r.auth, r.created_at],
    )) as PushSubscriptionRow[];
    return rows[0];
  }

  async remove(projectId: string, userId: string, endpoint: string): Promise<boolean> {
    const [, count] = (await this.db.query(`DELETE FROM control.notification_push_subscriptions WHERE project_id = $1 AND user_id = $2 AND endpoint = $3`, [projectId, userId, endpoint])) as [unknown, number];
    return count === 1;
  }

  async removeById(id: string): Promise<void> {
    await this.db.query(`DELETE FROM control.notification_push_subscriptions WHERE id = $1`, [id]);
  }

  async byId(id: string): Promise<PushSubscriptionRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_push_subscriptions WHERE id = $1`, [id])) as PushSubscriptionRow[];
    return rows[0] ?? null;
  }

  async ofUsers(m: EntityManager, projectId: string, userIds: string[]): Promise<PushSubscriptionRow[]> {
    if (!userIds.length) return [];
    return (await m.query(`SELECT * FROM control.notification_push_subscriptions WHERE project_id = $1 AND user_id = ANY($2::uuid[]) ORDER BY created_at`, [projectId, userIds])) as PushSubscriptionRow[];
  }

  async ofUser(projectId: string, userId: string): Promise<PushSubscriptionRow[]> {
    return (await this.db.query(`SELECT * FROM control.notification_push_subscriptions WHERE project_id = $1 AND user_id = $2 ORDER BY created_at`, [projectId, userId])) as PushSubscriptionRow[];
  }
}
