import { Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { RuleInput, rulesSchema } from '../rules/table-rules';
import { CurrentTableAdmin, TableAdminGuard } from './table-admin.guard';
import { CreateTableInput, createTableSchema, PatchTableInput, patchTableSchema } from './table-definition';
import { tableSchema } from './tables.responses';
import { TableAdmin, TablesService } from './tables.service';

/** The table catalog of a project: console users (read: any member; changes: developer and up) or its secret key. */
@ApiTags('tables')
@Controller('v1/projects/:ref/tables')
@UseGuards(TableAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class TablesController {
  constructor(private readonly tables: TablesService) {}

  @ApiEndpoint({ summary: 'List tables', description: 'The tables declared in the project, with columns, indexes and rules.', response: z.array(tableSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string) {
    return this.tables.list(a, ref);
  }

  @ApiEndpoint({ summary: 'Get a table', description: 'One declared table.', response: tableSchema })
  @Get(':name')
  @RequirePermission('read', 'Project')
  get(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.tables.get(a, ref, name);
  }

  @ApiEndpoint({ summary: 'Declare a table', description: 'Creates a table from its definition (columns and types, primary key, uniques, indexes, references, defaults). Every problem of the definition is listed in one 400. A table without rules is reachable only with a secret key.', status: 201, response: tableSchema })
  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createTableSchema)
  create(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @ZodBody(createTableSchema) body: CreateTableInput) {
    return this.tables.create(a, ref, body);
  }

  @ApiEndpoint({ summary: 'Change a table', description:
      'Changes a table in one transaction, in this order: drop_indexes, drop_columns, rename_columns, alter_columns, add_columns, add_indexes. ' +
      'alter_columns: [{name, type?, nullable?, default?, unique?}] changes existing columns (named as after any rename in the same request): ' +
      'type casts the rows (USING col::type; not to or from enum or tsvector, nor on a referenced column), default takes what add_columns takes or null to drop it, ' +
      "a primary key column's nullability and an identity default can't change. Every problem is listed in one 400 with the field's path (alter_columns.0.type). " +
      'Existing rows that refuse the change (a failed cast → 400, nulls under NOT NULL or duplicates under unique → 409) name the column, and nothing is changed.', response: tableSchema })
  @Patch(':name')
  @RequirePermission('update', 'Project')
  @ApiZodBody(patchTableSchema)
  patch(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(patchTableSchema) body: PatchTableInput) {
    return this.tables.patch(a, ref, name, body);
  }

  @ApiEndpoint({ summary: 'Drop a table', description: 'Drops the table and its data.', status: 204 })
  @Delete(':name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.tables.remove(a, ref, name);
  }

  @ApiEndpoint({ summary: "Replace a table's rules", description: 'The whole rule set of the table: per role (anon, authenticated) and action (read, create, update, delete), with optional conditions over columns and the caller ($auth.uid) and allowed columns.', response: tableSchema })
  @Put(':name/rules')
  @RequirePermission('update', 'Project')
  @ApiZodBody(rulesSchema)
  putRules(@CurrentTableAdmin() a: TableAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(rulesSchema) body: RuleInput[]) {
    return this.tables.putRules(a, ref, name, body);
  }
}
