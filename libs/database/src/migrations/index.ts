import { ControlSchema1763900000000 } from './1763900000000-control-schema';
import { JobsMeteringQuotas1763900100000 } from './1763900100000-jobs-metering-quotas';
import { AuthRuntime1763900200000 } from './1763900200000-auth-runtime';
import { DataRuntime1763900300000 } from './1763900300000-data-runtime';
import { Billing1763900400000 } from './1763900400000-billing';
import { PlatformMail1763900550000 } from './1763900550000-platform-mail';
import { ConsoleEmailVerification1764000100000 } from './1764000100000-console-email-verification';
import { TenantGuard1764000200000 } from './1764000200000-tenant-guard';
import { AuthenticatedIpLimits1764000600000 } from './1764000600000-authenticated-ip-limits';
import { TenantAuthRole1764000700000 } from './1764000700000-tenant-auth-role';
import { StorageRuntime1765000100000 } from './1765000100000-storage-runtime';
import { FunctionsRuntime1765000200000 } from './1765000200000-functions-runtime';
import { Notifications1765000300000 } from './1765000300000-notifications';
import { DataSettings1765000400000 } from './1765000400000-data-settings';
import { AuthFlowsMfa1765000500000 } from './1765000500000-auth-flows-mfa';
import { AuthSessionRecovery1765000600000 } from './1765000600000-auth-session-recovery';
import { NotificationTemplates1765000900000 } from './1765000900000-notification-templates';
import { NotificationPreferences1765000900100 } from './1765000900100-notification-preferences';
import { NotificationPush1765000900200 } from './1765000900200-notification-push';
import { FunctionLogRetention1765001100000 } from './1765001100000-function-log-retention';
import { NotificationDigestsTriggers1765001200000 } from './1765001200000-notification-digests-triggers';

/**
 * Every control-schema migration, in order. Append new ones; never edit a landed one. A change to every project's
 * schema is a tenant migration instead (../tenant-migrations/index.ts): these run on the control database only, so a
 * loop over project schemas here would miss the projects on other clusters.
 */
export const CONTROL_MIGRATIONS = [
  ControlSchema1763900000000,
  JobsMeteringQuotas1763900100000,
  AuthRuntime1763900200000,
  DataRuntime1763900300000,
  Billing1763900400000,
  PlatformMail1763900550000,
  ConsoleEmailVerification1764000100000,
  TenantGuard1764000200000,
  AuthenticatedIpLimits1764000600000,
  TenantAuthRole1764000700000,
  StorageRuntime1765000100000,
  FunctionsRuntime1765000200000,
  Notifications1765000300000,
  DataSettings1765000400000,
  AuthFlowsMfa1765000500000,
  AuthSessionRecovery1765000600000,
  NotificationTemplates1765000900000,
  NotificationPreferences1765000900100,
  NotificationPush1765000900200,
  FunctionLogRetention1765001100000,
  NotificationDigestsTriggers1765001200000,
];
