import { Logger, Module, OnModuleInit } from '@nestjs/common';
import { AuditModule } from '@plinth/audit';
import { GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { OutboxService } from '@plinth/jobs';
import { GaugeSources, METERS, MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { ProjectsRepository, ProvisioningHooks, TenancyModule } from '@plinth/tenancy';
import { BucketAdminGuard } from './bucket-admin.guard';
import { BucketsAdminService } from './buckets-admin.service';
import { BucketsController } from './buckets.controller';
import { DELETE_PROJECT_OBJECTS_JOB, DeleteProjectObjectsJob, SweepOrphanBytesJob } from './storage-bytes.jobs';
import { storageBackendProvider } from './storage-backend.provider';
import { createStorageTables } from './storage-schema';
import { StorageEdge } from './storage-edge';
import { StorageRepository } from './storage.repository';
import { StorageService } from './storage.service';
import { ResumableUploads } from './resumable-uploads';
import { ImageRender } from './image-render';
import { STORAGE_BACKEND } from './backends/storage-backend';

/**
 * What runs in the worker as well as the api: the backend, the metadata repository, the jobs that delete a deleted
 * project's bytes and sweep orphaned ones, and the `file_bytes` gauge; plus the provisioning and teardown hooks.
 */
@Module({
  imports: [TenancyModule, MeteringModule],
  providers: [storageBackendProvider, StorageRepository, DeleteProjectObjectsJob, SweepOrphanBytesJob],
  exports: [STORAGE_BACKEND, StorageRepository, SweepOrphanBytesJob],
})
export class StorageJobsModule implements OnModuleInit {
  private readonly logger = new Logger(StorageJobsModule.name);

  constructor(
    private readonly hooks: ProvisioningHooks,
    private readonly gauges: GaugeSources,
    private readonly projects: ProjectsRepository,
    private readonly repo: StorageRepository,
    private readonly outbox: OutboxService,
  ) {}

  onModuleInit(): void {
    this.hooks.register('storage', createStorageTables);
    // A deleted project's bytes go through a job enqueued with the deletion: never lost if the process dies after it.
    this.hooks.registerTeardown('storage', (m, names) =>
      this.outbox.enqueue(m, { queue: 'maintenance', name: DELETE_PROJECT_OBJECTS_JOB, data: { orgId: null, ref: names.ref } }).then(() => undefined),
    );
    this.gauges.register(METERS.fileBytes, async () => {
      const out: Array<{ projectId: string; value: number }> = [];
      for (const p of await this.projects.activeTargets()) {
        // One unreadable project (its cluster down, say) keeps its last sample rather than failing everyone's.
        try {
          out.push({ projectId: p.id, value: await this.repo.storedBytes({ ...p, orgId: '' }) });
        } catch (e) {
          this.logger.warn(`file_bytes sample skipped project ${p.ref}: ${(e as Error).message}`);
        }
      }
      return out;
    });
  }
}

/**
 * The storage runtime: Supabase Storage at `/p/:ref/storage/v1` (registered with the tenant edge by
 * {@link StorageEdge}) and buckets with their rules on the management API.
 */
@Module({
  imports: [GatewayModule, IdentityModule, TenancyModule, QuotasModule, AuditModule, StorageJobsModule],
  controllers: [BucketsController],
  providers: [StorageService, ResumableUploads, ImageRender, StorageEdge, BucketsAdminService, BucketAdminGuard],
  exports: [StorageService],
})
export class StorageRuntimeModule {}
