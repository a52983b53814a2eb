import type { TenantMigration } from '../tenant-migrator';
import {
  AuthFlowsMfa1765001500300,
  AuthSessionRecovery1765001500400,
  DataSequenceGrants1765001500200,
  StorageRuntime1765001500100,
  TenantAuthRole1765001500000,
} from './1765001500000-cluster-catch-up';
import { StoragePendingBytes1765001000000 } from './1765001000000-storage-pending-bytes';
import { StorageUsage1765001000100 } from './1765001000100-storage-usage';

/** Every tenant-schema migration, in order (applied per cluster by runTenantMigrations). Append; never edit a landed one. */
export const TENANT_MIGRATIONS: TenantMigration[] = [
  TenantAuthRole1765001500000,
  StorageRuntime1765001500100,
  DataSequenceGrants1765001500200,
  AuthFlowsMfa1765001500300,
  AuthSessionRecovery1765001500400,
  StoragePendingBytes1765001000000,
  StorageUsage1765001000100,
];
