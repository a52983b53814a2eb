import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Opens transactions on the control database for services, so they hold the boundary (STYLE: one method) without
 * the raw DataSource: the SQL inside stays in repositories that take the EntityManager.
 */
@Injectable()
export class ControlTransactions {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  run<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }
}
