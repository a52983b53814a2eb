import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { AuthSettings } from './auth-config.dto';

export interface AuthConfigRow {
  settings: Partial<AuthSettings>;
  smtp_password_enc: string | null;
  updated_at: Date;
}

/** control.auth_configs: a project's stored auth settings (no row = defaults). */
@Injectable()
export class AuthConfigRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async find(projectId: string): Promise<AuthConfigRow | undefined> {
    const rows = (await this.db.query(`SELECT settings, smtp_password_enc, updated_at FROM control.auth_configs WHERE project_id = $1`, [
      projectId,
    ])) as AuthConfigRow[];
    return rows[0];
  }

  /** Stores the whole settings in `m`'s transaction; `updated_at` is the clock time, so each change gets a new version. */
  async upsert(m: EntityManager, projectId: string, settings: AuthSettings, smtpPasswordSealed: string | null): Promise<void> {
    await m.query(
      `INSERT INTO control.auth_configs (project_id, settings, smtp_password_enc, updated_at) VALUES ($1, $2, $3, clock_timestamp())
       ON CONFLICT (project_id) DO UPDATE SET settings = EXCLUDED.settings, smtp_password_enc = EXCLUDED.smtp_password_enc,
         updated_at = EXCLUDED.updated_at`,
      [projectId, JSON.stringify(settings), smtpPasswordSealed],
    );
  }
}
