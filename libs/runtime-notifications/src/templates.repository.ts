import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

export interface TemplateDigest {
  window_seconds: number;
  /** A Liquid template rendered with the send's data: sends with different keys go in different digests. */
  key?: string;
}

export interface TemplateTrigger {
  event: string;
  /** The row's column holding the recipient's user id (user events: the user's own id when not given). */
  user_id_column?: string;
  channels?: Array<'inapp' | 'email' | 'push'>;
}

export interface TemplateRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  email: { subject: string; text?: string; html?: string } | null;
  inapp: { title?: string; body?: string } | null;
  webhook: { payload: Record<string, unknown> } | null;
  /** Sends within `window_seconds` to one address (and key) become one email, sent when the window closes. */
  digest: TemplateDigest | null;
  /** Data and auth events that send this template to the user named by the row. */
  triggers: TemplateTrigger[];
  created_at: Date;
  updated_at: Date;
}

/** `control.notification_templates`: every read and write names the project. */
@Injectable()
export class TemplatesRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** False when the project already has a template of that name. */
  async insert(m: EntityManager, r: TemplateRow): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.notification_templates (id, project_id, name, description, email, inapp, webhook, digest, triggers, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (project_id, name) DO NOTHING RETURNING id`,
      [r.id, r.project_id, r.name, r.description, json(r.email), json(r.inapp), json(r.webhook), json(r.digest), JSON.stringify(r.triggers), r.created_at, r.updated_at],
    )) as unknown[];
    return rows.length === 1;
  }

  async list(projectId: string): Promise<TemplateRow[]> {
    return (await this.db.query(`SELECT * FROM control.notification_templates WHERE project_id = $1 ORDER BY name`, [projectId])) as TemplateRow[];
  }

  async get(projectId: string, id: string): Promise<TemplateRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_templates WHERE project_id = $1 AND id = $2`, [projectId, id])) as TemplateRow[];
    return rows[0] ?? null;
  }

  async byName(projectId: string, name: string): Promise<TemplateRow | null> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_templates WHERE project_id = $1 AND name = $2`, [projectId, name])) as TemplateRow[];
    return rows[0] ?? null;
  }

  /** Writes the whole row (the service merged the patch); 'conflict' when the new name is taken, null when gone. */
  async update(m: EntityManager, r: TemplateRow): Promise<TemplateRow | null | 'conflict'> {
    try {
      const rows = (await m.query(
        `UPDATE control.notification_templates SET name = $3, description = $4, email = $5, inapp = $6, webhook = $7, digest = $8, triggers = $9, updated_at = $10
          WHERE project_id = $1 AND id = $2 RETURNING *`,
        [r.project_id, r.id, r.name, r.description, json(r.email), json(r.inapp), json(r.webhook), json(r.digest), JSON.stringify(r.triggers), r.updated_at],
      )) as [TemplateRow[], number];
      return rows[0][0] ?? null;
    } catch (e) {
      if ((e as { code?: string }).code === '23505') return 'conflict';
      throw e;
    }
  }

  /** Each trigger of the project's templates, with its template. */
  async withTriggers(projectId: string): Promise<Array<{ template: TemplateRow; trigger: TemplateTrigger }>> {
    const rows = (await this.db.query(`SELECT * FROM control.notification_templates WHERE project_id = $1 AND triggers <> '[]'::jsonb ORDER BY name`, [projectId])) as TemplateRow[];
    return rows.flatMap((template) => template.triggers.map((trigger) => ({ template, trigger })));
  }

  async delete(m: EntityManager, projectId: string, id: string): Promise<boolean> {
    const [, count] = (await m.query(`DELETE FROM control.notification_templates WHERE project_id = $1 AND id = $2`, [projectId, id])) as [unknown, number];
    return count === 1;
  }
}

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
