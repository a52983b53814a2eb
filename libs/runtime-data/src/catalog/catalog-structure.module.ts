import { Module } from '@nestjs/common';
import { TenancyModule } from '@plinth/tenancy';
import { CatalogStructureRepository } from './catalog-structure.repository';

/**
 * Just the catalog's report of projects' tables to tenancy, without the data runtime's routes: the worker imports it
 * so plan switches there see tables and columns too.
 */
@Module({
  imports: [TenancyModule],
  providers: [CatalogStructureRepository],
})
export class CatalogStructureModule {}
