import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { METERS } from './meters';
import { UsageRepository } from './usage.repository';

export const SAMPLE_DB_BYTES_JOB = 'sample-db-bytes';

/**
 * Daily: samples each active project's database size (every relation in its schema) as the `db_bytes` gauge.
 * Reads the control database's catalog, so it covers projects on the default cluster.
 */
@Injectable()
export class SampleStorageJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.usage;
  readonly name = SAMPLE_DB_BYTES_JOB;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly repo: UsageRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 86400_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  async run(): Promise<number> {
    const rows = (await this.db.query(
      `SELECT p.id, coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes
         FROM control.projects p
         LEFT JOIN pg_namespace n ON n.nspname = p.schema_name
         LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'm', 'p')
        WHERE p.status = 'active' GROUP BY p.id`,
    )) as Array<{ id: string; bytes: number }>;
    const at = this.clock.now();
    for (const r of rows) await this.repo.recordSample(r.id, METERS.dbBytes, r.bytes, at);
    return rows.length;
  }
}
