import { Controller, Delete, Get, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ZodBody, ZodQuery } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { CurrentFunctionAdmin, FunctionAdmin, FunctionAdminGuard } from './function-admin.guard';
import { DeployFunctionInput, deployFunctionSchema, LogsQuery, logsQuerySchema, PutSecretsInput, putSecretsSchema, RollbackInput, rollbackSchema } from './functions.dto';
import { FunctionsService } from './functions.service';

/**
 * A project's functions and their secrets: console users (read: any member; changes: developer and up) or the
 * project's secret key. The secrets routes come first so `/functions/secrets` is never taken for a function name.
 */
@ApiTags('functions')
@Controller('v1/projects/:ref/functions')
@UseGuards(FunctionAdminGuard)
@ApiBearerAuth()
@ApiSecurity('apikey')
export class FunctionsController {
  constructor(private readonly functions: FunctionsService) {}

  @Get('secrets')
  @RequirePermission('read', 'Project')
  secrets(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string) {
    return this.functions.secretNames(a, ref);
  }

  @Put('secrets')
  @RequirePermission('update', 'Project')
  @ApiZodBody(putSecretsSchema)
  putSecrets(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @ZodBody(putSecretsSchema) body: PutSecretsInput) {
    return this.functions.putSecrets(a, ref, body);
  }

  @Delete('secrets/:name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  deleteSecret(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.deleteSecret(a, ref, name);
  }

  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string) {
    return this.functions.list(a, ref);
  }

  @Get(':name')
  @RequirePermission('read', 'Project')
  get(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.get(a, ref, name);
  }

  @Put(':name')
  @RequirePermission('update', 'Project')
  @ApiZodBody(deployFunctionSchema)
  deploy(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(deployFunctionSchema) body: DeployFunctionInput) {
    return this.functions.deploy(a, ref, name, body);
  }

  @Get(':name/versions')
  @RequirePermission('read', 'Project')
  versions(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.versions(a, ref, name);
  }

  @Post(':name/rollback')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  @ApiZodBody(rollbackSchema)
  rollback(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(rollbackSchema) body: RollbackInput) {
    return this.functions.rollback(a, ref, name, body);
  }

  @Get(':name/logs')
  @RequirePermission('read', 'Project')
  logs(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodQuery(logsQuerySchema) q: LogsQuery) {
    return this.functions.readLogs(a, ref, name, q);
  }

  @Delete(':name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.remove(a, ref, name);
  }
}
