import type { Provider } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { DiskBackend } from './backends/disk-backend';
import { S3Backend } from './backends/s3-backend';
import { STORAGE_BACKEND, StorageBackend } from './backends/storage-backend';

/** The configured backend: S3-compatible when STORAGE_S3_BUCKET is set, else local disk under STORAGE_DIR. */
export const storageBackendProvider: Provider = {
  provide: STORAGE_BACKEND,
  inject: [PLINTH_CONFIG],
  useFactory: (config: PlinthConfig): StorageBackend => (config.storage.s3 ? new S3Backend(config.storage.s3) : new DiskBackend(config.storage.dir)),
};
