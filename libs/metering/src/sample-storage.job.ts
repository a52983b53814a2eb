import { Injectable, OnModuleInit } from '@nestjs/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { ProjectsRepository } from '@plinth/tenancy';
import { GaugeSources } from './gauge-sources';
import { METERS } from './meters';
import { UsageRepository } from './usage.repository';

export const SAMPLE_DB_BYTES_JOB = 'sample-db-bytes';

/**
 * Daily: samples each active project's database size (every relation in its schema) as the `db_bytes` gauge, and
 * the gauges runtimes register ({@link GaugeSources}: the storage runtime's `file_bytes`). Sizes are read on each
 * project's own cluster.
 */
@Injectable()
export class SampleStorageJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.usage;
  readonly name = SAMPLE_DB_BYTES_JOB;

  constructor(
    private readonly projects: ProjectsRepository,
    private readonly repo: UsageRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly gauges: GaugeSources,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 86400_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  async run(): Promise<number> {
    const rows = await this.projects.activeSchemaSizes();
    const at = this.clock.now();
    for (const r of rows) await this.repo.recordSample(r.id, METERS.dbBytes, r.bytes, at);
    for (const [meter, source] of this.gauges.entries()) {
      for (const s of await source()) await this.repo.recordSample(s.projectId, meter, s.value, at);
    }
    return rows.length;
  }
}
