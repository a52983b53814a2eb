import { Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ZodBody } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { RuleInput, rulesSchema } from '../rules/table-rules';
import { CurrentTableAdmin, TableAdminGuard } from './table-admin.guard';
import { CreateTableInput, createTableSchema, PatchTableInput, patchTableSchema } from './table-definition';
import { TableAdmin, TablesService } from './tables.service';

/** The table catalog of a project: console users (read: any member; changes: developer and up) or its secret key. */
@ApiTags('tables')
@Controller('v1/projects/:ref/tables')
@UseGuards(TableAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class TablesController {
  constructor(private readonly tables: TablesService) {}

  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string) {
    return this.tables.list(a, ref);
  }

  @Get(':name')
  @RequirePermission('read', 'Project')
  get(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.tables.get(a, ref, name);
  }

  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createTableSchema)
  create(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @ZodBody(createTableSchema) body: CreateTableInput) {
    return this.tables.create(a, ref, body);
  }

  @Patch(':name')
  @RequirePermission('update', 'Project')
  @ApiZodBody(patchTableSchema)
  patch(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(patchTableSchema) body: PatchTableInput) {
    return this.tables.patch(a, ref, name, body);
  }

  @Delete(':name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.tables.remove(a, ref, name);
  }

  @Put(':name/rules')
  @RequirePermission('update', 'Project')
  @ApiZodBody(rulesSchema)
  putRules(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(rulesSchema) body: RuleInput[]) {
    return this.tables.putRules(a, ref, name, body);
  }
}
