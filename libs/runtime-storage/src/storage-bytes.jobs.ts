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
 * Hourly: deletes the bytes of pending keys that are due (see storage-schema.ts: every key is recorded before its
 * bytes are written, or in the statement that stops an object pointing at it) — what a crash between writing bytes
 * and committing, or after committing before deleting the replaced bytes, left behind, abandoned resumable uploads'
 * parts, and cached renderings. It reads only those rows, never a listing of the backend (a resumable upload's
 * prefix is listed alone). Each batch is claimed first, so a late commit can't take a key being swept; bytes are
 * deleted before their row, so a crash mid-sweep leaves the row for the next run.
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
   * The number of keys (and prefixes) swept. One project failing (its cluster unreachable, say) is logged and
   * skipped, never swept blind: its rows stay until a later run can read them.
   */
  async run(): Promise<number> {
    let deleted = 0;
    for (const p of await this.projects.activeTargets()) {
      try {
        deleted += await this.sweepProject({ ...p, orgId: '' });
      } catch (e) {
        this.logger.warn(`orphan sweep skipped project ${p.ref}: ${(e as Error).message}`);
      }
    }
    if (deleted) this.logger.log(`deleted ${deleted} orphaned object byte key(s)`);
    return deleted;
  }

  /** Sweeps one project's due pending keys (its ref is checked: a prefix is only ever listed inside the project). */
  async sweepProject(project: Parameters<StorageRepository['claimDue']>[0]): Promise<number> {
    const now = this.clock.now();
    // Abandoned resumable uploads first: their prefixes fall due at the same expiry.
    await this.repo.dropExpiredUploads(project, now);
    let deleted = 0;
    for (;;) {
      const due = await this.repo.claimDue(project, now, BATCH);
      const keys: string[] = [];
      for (const d of due) {
        if (d.referenced || !d.key.startsWith(`${project.ref}/`)) continue;
        if (!d.prefix) keys.push(d.key);
        else for await (const { key } of this.backend.list(d.key)) keys.push(key);
      }
      for (let i = 0; i < keys.length; i += BATCH) await this.backend.delete(keys.slice(i, i + BATCH));
      await this.repo.forgetPending(project, due.map((d) => d.key), true);
      deleted += keys.length;
      if (due.length < BATCH) return deleted;
    }
  }
}
