import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Inject } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { ProjectsRepository, REF_PATTERN } from '@plinth/tenancy';
import { STORAGE_BACKEND, StorageBackend } from './backends/storage-backend';
import { StorageRepository } from './storage.repository';

export const DELETE_PROJECT_OBJECTS_JOB = 'delete-project-objects';
export const SWEEP_ORPHAN_BYTES_JOB = 'sweep-orphan-bytes';

export interface DeleteProjectObjectsData extends JobData {
  ref: string;
}

/** Bytes younger than this are never swept: an upload in flight has written them and not yet committed its row. */
export const ORPHAN_GRACE_MS = 3600_000;
const BATCH = 500;

/**
 * Deletes every byte of a deleted project (`<ref>/…`), enqueued in the deleting transaction by the storage
 * runtime's teardown hook. Idempotent: a re-run finds fewer keys, or none.
 */
@Injectable()
export class DeleteProjectObjectsJob implements JobHandler<DeleteProjectObjectsData>, OnModuleInit {
  readonly queue = QUEUES.maintenance;
  readonly name = DELETE_PROJECT_OBJECTS_JOB;

  constructor(
    @Inject(STORAGE_BACKEND) private readonly backend: StorageBackend,
    private readonly registry: JobRegistry,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: DeleteProjectObjectsData): Promise<void> {
    if (!REF_PATTERN.test(data.ref)) return;
    let batch: string[] = [];
    for await (const { key } of this.backend.list(`${data.ref}/`)) {
      batch.push(key);
      if (batch.length >= BATCH) {
        await this.backend.delete(batch);
        batch = [];
      }
    }
    await this.backend.delete(batch);
  }
}

/**
 * Hourly: bytes no object row points at, older than {@link ORPHAN_GRACE_MS}, are deleted — what a crash between
 * writing bytes and committing (or after committing, before deleting the replaced bytes) left behind.
 */
@Injectable()
export class SweepOrphanBytesJob implements JobHandler<JobData>, OnModuleInit {
  private readonly logger = new Logger(SweepOrphanBytesJob.name);
  readonly queue = QUEUES.maintenance;
  readonly name = SWEEP_ORPHAN_BYTES_JOB;

  constructor(
    @Inject(STORAGE_BACKEND) private readonly backend: StorageBackend,
    private readonly projects: ProjectsRepository,
    private readonly repo: StorageRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 3600_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  /**
   * The number of keys deleted. One project failing (its cluster unreachable, say) is logged and skipped, never
   * swept blind: its bytes stay until a later run can read which of them are referenced.
   */
  async run(): Promise<number> {
    const before = this.clock.nowMs() - ORPHAN_GRACE_MS;
    let deleted = 0;
    for (const p of await this.projects.activeTargets()) {
      try {
        deleted += await this.sweepProject({ ...p, orgId: '' }, before);
      } catch (e) {
        this.logger.warn(`orphan sweep skipped project ${p.ref}: ${(e as Error).message}`);
      }
    }
    if (deleted) this.logger.log(`deleted ${deleted} orphaned object byte key(s)`);
    return deleted;
  }

  private async sweepProject(project: Parameters<StorageRepository['referencedKeys']>[0], before: number): Promise<number> {
    let deleted = 0;
    // Abandoned resumable uploads first: their parts become orphans like any other bytes.
    await this.repo.dropExpiredUploads(project, this.clock.now());
    let candidates: string[] = [];
    const sweep = async () => {
      const referenced = await this.repo.referencedKeys(project, candidates);
      const orphans = candidates.filter((k) => !referenced.has(k));
      await this.backend.delete(orphans);
      deleted += orphans.length;
      candidates = [];
    };
    for await (const { key, modifiedAt } of this.backend.list(`${project.ref}/`)) {
      if (modifiedAt.getTime() >= before) continue;
      candidates.push(key);
      if (candidates.length >= BATCH) await sweep();
    }
    if (candidates.length) await sweep();
    return deleted;
  }
}
