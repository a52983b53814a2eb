import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** control.auth_monthly_users: which users were active in which UTC month, once per (project, month, user). */
@Injectable()
export class MauRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Records the user as active in the month; true only for the first record of that (project, month, user). */
  async record(projectId: string, month: string, userId: string): Promise<boolean> {
    const rows = (await this.db.query(
      `INSERT INTO control.auth_monthly_users (project_id, month, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
      [projectId, month, userId],
    )) as unknown[];
    return rows.length > 0;
  }
}
