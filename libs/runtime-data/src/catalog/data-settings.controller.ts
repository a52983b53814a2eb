import { Controller, Get, Param, Patch, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiEndpoint, ApiZodBody, ZodBody } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { PatchDataSettingsInput, patchDataSettingsSchema } from './data-settings';
import { CurrentTableAdmin, TableAdminGuard } from './table-admin.guard';
import { dataSettingsSchema } from './tables.responses';
import { TableAdmin, TablesService } from './tables.service';

/** A project's data runtime settings (transaction end, aggregates): the same callers as the table catalog. */
@ApiTags('tables')
@Controller('v1/projects/:ref/data-settings')
@UseGuards(TableAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class DataSettingsController {
  constructor(private readonly tables: TablesService) {}

  @ApiEndpoint({ summary: 'Get data settings', description: "The project's data runtime settings: how a request's transaction ends (tx_end) and whether select may aggregate.", response: dataSettingsSchema })
  @Get()
  @RequirePermission('read', 'Project')
  get(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string) {
    return this.tables.settings(a, ref);
  }

  @ApiEndpoint({ summary: 'Change data settings', description: 'Sets tx_end (commit, commit-allow-override, rollback, rollback-allow-override) and/or aggregates; every instance serves the change at once.', response: dataSettingsSchema })
  @Patch()
  @RequirePermission('update', 'Project')
  @ApiZodBody(patchDataSettingsSchema)
  patch(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @ZodBody(patchDataSettingsSchema) body: PatchDataSettingsInput) {
    return this.tables.patchSettings(a, ref, body);
  }
}
