import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/** `{channel: false}` opts out of a channel; `{topic: false}` out of a topic. Missing means on. */
export interface Preferences {
  channels: Record<string, boolean>;
  topics: Record<string, boolean>;
}

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;

/** End users' preferences and topic subscriptions, always by (project, user); and their email addresses for sends. */
@Injectable()
export class PreferencesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async get(projectId: string, userId: string, m?: EntityManager): Promise<Preferences> {
    const rows = (await (m ?? this.db).query(`SELECT channels, topics FROM control.notification_preferences WHERE project_id = $1 AND user_id = $2`, [projectId, userId])) as Preferences[];
    return rows[0] ?? { channels: {}, topics: {} };
  }

  /** Preferences of many users at once (missing users: all on). */
  async many(m: EntityManager, projectId: string, userIds: string[]): Promise<Map<string, Preferences>> {
    const rows = (await m.query(`SELECT user_id, channels, topics FROM control.notification_preferences WHERE project_id = $1 AND user_id = ANY($2::uuid[])`, [projectId, userIds])) as Array<Preferences & { user_id: string }>;
    return new Map(rows.map((r) => [r.user_id, { channels: r.channels, topics: r.topics }]));
  }

  async put(projectId: string, userId: string, p: Preferences, at: Date): Promise<Preferences> {
    const rows = (await this.db.query(
      `INSERT INTO control.notification_preferences (project_id, user_id, channels, topics, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (project_id, user_id) DO UPDATE SET channels = EXCLUDED.channels, topics = EXCLUDED.topics, updated_at = EXCLUDED.updated_at
       RETURNING channels, topics`,
      [projectId, userId, JSON.stringify(p.channels), JSON.stringify(p.topics), at],
    )) as Preferences[];
    return rows[0];
  }

  /** Sets one opt-out flag (`channels.<name>` or `topics.<name>`) to false, keeping the rest. */
  async optOut(projectId: string, userId: string, kind: 'channels' | 'topics', name: string, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO control.notification_preferences (project_id, user_id, channels, topics, updated_at)
       VALUES ($1, $2, CASE WHEN $3 = 'channels' THEN jsonb_build_object($4::text, false) ELSE '{}'::jsonb END,
               CASE WHEN $3 = 'topics' THEN jsonb_build_object($4::text, false) ELSE '{}'::jsonb END, $5)
       ON CONFLICT (project_id, user_id) DO UPDATE SET
         channels = CASE WHEN $3 = 'channels' THEN control.notification_preferences.channels || jsonb_build_object($4::text, false) ELSE control.notification_preferences.channels END,
         topics = CASE WHEN $3 = 'topics' THEN control.notification_preferences.topics || jsonb_build_object($4::text, false) ELSE control.notification_preferences.topics END,
         updated_at = $5`,
      [projectId, userId, kind, name, at],
    );
  }

  async subscribe(projectId: string, topic: string, userId: string, at: Date): Promise<void> {
    await this.db.query(`INSERT INTO control.notification_topic_subscriptions (project_id, topic, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [projectId, topic, userId, at]);
  }

  async unsubscribe(projectId: string, topic: string, userId: string): Promise<boolean> {
    const [, count] = (await this.db.query(`DELETE FROM control.notification_topic_subscriptions WHERE project_id = $1 AND topic = $2 AND user_id = $3`, [projectId, topic, userId])) as [unknown, number];
    return count === 1;
  }

  async topicsOf(projectId: string, userId: string): Promise<string[]> {
    const rows = (await this.db.query(`SELECT topic FROM control.notification_topic_subscriptions WHERE project_id = $1 AND user_id = $2 ORDER BY topic`, [projectId, userId])) as Array<{ topic: string }>;
    return rows.map((r) => r.topic);
  }

  async subscribers(m: EntityManager, projectId: string, topic: string): Promise<string[]> {
    const rows = (await m.query(`SELECT user_id FROM control.notification_topic_subscriptions WHERE project_id = $1 AND topic = $2 ORDER BY user_id`, [projectId, topic])) as Array<{ user_id: string }>;
    return rows.map((r) => r.user_id);
  }

  /** The addresses of the project's end users among `userIds` (from the auth runtime's users table), by id. */
  async userEmails(m: EntityManager, schema: string, userIds: string[]): Promise<Map<string, string>> {
    if (!userIds.length) return new Map();
    const exists = (await m.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${q(schema)}._auth_users`])) as Array<{ ok: boolean }>;
    if (!exists[0].ok) return new Map();
    const rows = (await m.query(`SELECT id::text AS id, email FROM ${q(schema)}._auth_users WHERE id = ANY($1::uuid[]) AND email IS NOT NULL`, [userIds])) as Array<{ id: string; email: string }>;
    return new Map(rows.map((r) => [r.id, r.email]));
  }
}
