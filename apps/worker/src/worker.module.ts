import { DynamicModule, Module } from '@nestjs/common';
import { BillingModule } from '@plinth/billing';
import { ConfigModule, PlinthConfig } from '@plinth/config';
import { DatabaseModule } from '@plinth/database';
import { JobsModule } from '@plinth/jobs';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { AuthJobsModule } from '@plinth/runtime-auth';
import { CatalogStructureModule } from '@plinth/runtime-data';
import { StorageJobsModule } from '@plinth/runtime-storage';
import { FunctionsRuntimeModule } from '@plinth/runtime-functions';
import { NotificationsJobsModule, NotificationsSendModule } from '@plinth/runtime-notifications';

/**
 * The worker's root module: the same config and database as the api, plus the job processors. It carries the
 * functions runtime so cron runs of functions (jobs) have runners where the jobs run; its HTTP parts stay unused.
 * The notifications runtime's sending (no HTTP surface) serves those runs' `env.notify`.
 */
@Module({})
export class WorkerModule {
  static register(config: PlinthConfig, databaseUrl: string): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(databaseUrl), JobsModule, MeteringModule, QuotasModule, AuthJobsModule, BillingModule, CatalogStructureModule, StorageJobsModule, FunctionsRuntimeModule, NotificationsJobsModule, NotificationsSendModule],
    };
  }
}
