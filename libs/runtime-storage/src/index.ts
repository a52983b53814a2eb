/** The storage runtime (Supabase Storage per project); import once in the api (its routes register with the tenant edge). */
export { StorageRuntimeModule, StorageJobsModule } from './storage-runtime.module';
/** Buckets and objects, with their access rules and limits. */
export { StorageService, PENDING_GRACE_MS } from './storage.service';
/** Buckets' and objects' metadata (and pending byte keys) in the project's schema. */
export { StorageRepository } from './storage.repository';
/** Where object bytes live: the interface, its token, and the local-disk and S3 implementations. */
export { STORAGE_BACKEND } from './backends/storage-backend';
export type { StorageBackend, StoredBytes, ByteRange } from './backends/storage-backend';
export { DiskBackend } from './backends/disk-backend';
export { S3Backend } from './backends/s3-backend';
/** Storage-shaped errors of `/p/:ref/storage/v1`. */
export { StorageException, STORAGE_DIALECT } from './storage.exception';
/** Bucket rules (CASL) and their SQL form. */
export { bucketRulesSchema, allows, rulesSql } from './bucket-rules';
export type { StoredBucketRule, BucketRuleInput } from './bucket-rules';
/** Jobs: a deleted project's bytes; orphaned bytes. */
export { DeleteProjectObjectsJob, SweepOrphanBytesJob, DELETE_PROJECT_OBJECTS_JOB, SWEEP_ORPHAN_BYTES_JOB } from './storage-bytes.jobs';
