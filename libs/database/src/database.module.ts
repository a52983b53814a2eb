import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { DATABASE_URL } from './database.tokens';
import { controlDataSourceOptions } from './migrate';
import { TenantDatabase } from './tenant-database';
import { CacheInvalidation } from './cache-invalidation';
import { ControlHealthRepository } from './control-health.repository';
import { ControlTransactions } from './control-transactions';
import { TenantClusters } from './tenant-clusters';

/**
 * The control plane's TypeORM data source (entities registered by each lib with `forFeature`) and the
 * tenant executor. Migrations are run before the app starts, never by `synchronize`.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [PLINTH_CONFIG],
          useFactory: (config: PlinthConfig) => ({
            ...controlDataSourceOptions(url),
            autoLoadEntities: true,
            poolSize: config.database.poolMax,
            extra: { application_name: 'plinth-control' },
            logging: false,
          }),
        }),
      ],
      providers: [{ provide: DATABASE_URL, useValue: url }, TenantDatabase, TenantClusters, CacheInvalidation, ControlTransactions, ControlHealthRepository],
      exports: [DATABASE_URL, TenantDatabase, TenantClusters, CacheInvalidation, ControlTransactions, ControlHealthRepository],
    };
  }
}
