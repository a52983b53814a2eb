import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { QuotasModule } from '@plinth/quotas';
import { TenancyModule } from '@plinth/tenancy';
import { CatalogStructureModule } from './catalog/catalog-structure.module';
import { DataCatalog } from './catalog/data-catalog';
import { DataSettingsController } from './catalog/data-settings.controller';
import { DataSettingsEntity } from './catalog/data-settings';
import { DataTableEntity } from './catalog/data-table.entity';
import { TableAdminGuard } from './catalog/table-admin.guard';
import { TablesController } from './catalog/tables.controller';
import { TableHooks } from './catalog/table-hooks';
import { TablesService } from './catalog/tables.service';
import { RestEdge } from './rest/rest-edge';
import { RestService } from './rest/rest.service';
import { RpcRegistry } from './rest/rpc-registry';

/** The data runtime: the table catalog API (`/v1/projects/:ref/tables`) and PostgREST at `/p/:ref/rest/v1` (routes registered with the tenant edge). */
@Module({
  imports: [GatewayModule, IdentityModule, TenancyModule, QuotasModule, CatalogStructureModule, TypeOrmModule.forFeature([DataTableEntity, DataSettingsEntity])],
  controllers: [TablesController, DataSettingsController],
  providers: [DataCatalog, TablesService, TableAdminGuard, RestService, RestEdge, RpcRegistry, TableHooks],
  exports: [DataCatalog, TablesService, RestService, RpcRegistry, TableHooks],
})
export class DataRuntimeModule {}
