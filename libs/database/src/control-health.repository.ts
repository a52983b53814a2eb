import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Whether the control database answers, and whether every migration is applied. */
export type ControlHealth = { database: 'unreachable' } | { database: 'ok'; migrations: 'applied' | 'pending' };

/** The readiness probe's view of the control database. */
@Injectable()
export class ControlHealthRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async check(): Promise<ControlHealth> {
    try {
      await this.db.query('SELECT 1');
      return { database: 'ok', migrations: (await this.db.showMigrations()) ? 'pending' : 'applied' };
    } catch {
      return { database: 'unreachable' };
    }
  }
}
