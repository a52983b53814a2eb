import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { DataCatalog } from './catalog/data-catalog';
import { DataTableEntity } from './catalog/data-table.entity';
import { TableAdminGuard } from './catalog/table-admin.guard';
import { TablesController } from './catalog/tables.controller';
import { TablesService } from './catalog/tables.service';
import { RestController } from './rest/rest.controller';
import { RestService } from './rest/rest.service';

/** The data runtime: the table catalog API (`/v1/projects/:ref/tables`) and PostgREST at `/p/:ref/rest/v1`. */
@Module({
  imports: [GatewayModule, IdentityModule, TypeOrmModule.forFeature([DataTableEntity])],
  controllers: [TablesController, RestController],
  providers: [DataCatalog, TablesService, TableAdminGuard, RestService],
  exports: [DataCatalog, TablesService, RestService],
})
export class DataRuntimeModule {}
