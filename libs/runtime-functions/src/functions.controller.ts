import { Controller, Delete, Get, HttpCode, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody, ZodQuery } from '@plinth/common';
import { RequirePermission } from '@plinth/identity';
import { CurrentFunctionAdmin, FunctionAdmin, FunctionAdminGuard } from './function-admin.guard';
import { DeployFunctionInput, deployFunctionSchema, LogsQuery, logsQuerySchema, PutSecretsInput, putSecretsSchema, RollbackInput, rollbackSchema } from './functions.dto';
import { functionLogSchema, functionSchema, functionSecretSchema, functionVersionSchema, functionWithSourceSchema } from './functions.responses';
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

  @ApiEndpoint({ summary: 'List function secrets', description: "The names of the project's function secrets (env.secrets.NAME), by name only: values are encrypted at rest and never returned. Any member of the project's organization, or the project's secret key.", response: z.array(functionSecretSchema) })
  @Get('secrets')
  @RequirePermission('read', 'Project')
  secrets(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string) {
    return this.functions.secretNames(a, ref);
  }

  @ApiEndpoint({ summary: 'Set function secrets', description: "Sets (adds or replaces) 1 to 100 secrets for every function of the project, as an object of NAME: value (names: letters, digits and _; values up to 64 KiB); other secrets are kept. Answers with every secret's name, never a value. Developers and up, or the project's secret key.", response: z.array(functionSecretSchema) })
  @Put('secrets')
  @RequirePermission('update', 'Project')
  @ApiZodBody(putSecretsSchema)
  putSecrets(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @ZodBody(putSecretsSchema) body: PutSecretsInput) {
    return this.functions.putSecrets(a, ref, body);
  }

  @ApiEndpoint({ summary: 'Delete a function secret', description: "Removes one secret; 404 if the project has no secret of that name. Developers and up, or the project's secret key.", status: 204 })
  @Delete('secrets/:name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  deleteSecret(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.deleteSecret(a, ref, name);
  }

  @ApiEndpoint({ summary: 'List functions', description: "The project's functions with their current version and settings (without source). Any member of the project's organization, or the project's secret key.", response: z.array(functionSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string) {
    return this.functions.list(a, ref);
  }

  @ApiEndpoint({ summary: 'Get a function', description: "A function with its current version, settings and source; 404 if there is none of that name. Any member of the project's organization, or the project's secret key.", response: functionWithSourceSchema })
  @Get(':name')
  @RequirePermission('read', 'Project')
  get(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.get(a, ref, name);
  }

  @ApiEndpoint({ summary: 'Deploy a function', description: "Compiles the source and stores it as a new, immutable version that becomes current at once (the first deploy creates the function). Refused with 400: a source that does not compile (with the line and column; the current version stays), memory_mb or timeout_ms above the plan's caps, an invalid name or the reserved name secrets; with 413: a source over FUNCTION_MAX_SOURCE_BYTES. Developers and up, or the project's secret key.", response: functionSchema })
  @Put(':name')
  @RequirePermission('update', 'Project')
  @ApiZodBody(deployFunctionSchema)
  deploy(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(deployFunctionSchema) body: DeployFunctionInput) {
    return this.functions.deploy(a, ref, name, body);
  }

  @ApiEndpoint({ summary: 'List function versions', description: "Every deployed version of a function, newest first, marking the current one. Any member of the project's organization, or the project's secret key.", response: z.array(functionVersionSchema) })
  @Get(':name/versions')
  @RequirePermission('read', 'Project')
  versions(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.versions(a, ref, name);
  }

  @ApiEndpoint({ summary: 'Roll a function back', description: "Makes an earlier version current again (no new version is made); 404 for a version that does not exist. Answers with the function as it now is, source included. Developers and up, or the project's secret key.", response: functionWithSourceSchema })
  @Post(':name/rollback')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  @ApiZodBody(rollbackSchema)
  rollback(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodBody(rollbackSchema) body: RollbackInput) {
    return this.functions.rollback(a, ref, name, body);
  }

  @ApiEndpoint({ summary: 'Read function logs', description: "One entry per invocation, newest first, within the log retention (FUNCTION_LOG_RETENTION_HOURS): status, duration, CPU, memory, error and the lines it logged. Filters: since, level (error: failed or error-logging invocations; any level also filters the lines), request_id; limit up to 1000 (default 100). Any member of the project's organization, or the project's secret key.", response: z.array(functionLogSchema) })
  @Get(':name/logs')
  @RequirePermission('read', 'Project')
  logs(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string, @ZodQuery(logsQuerySchema) q: LogsQuery) {
    return this.functions.readLogs(a, ref, name, q);
  }

  @ApiEndpoint({ summary: 'Delete a function', description: "Deletes a function with all its versions; calls to it answer 404 from then on. Developers and up, or the project's secret key.", status: 204 })
  @Delete(':name')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentFunctionAdmin() a: FunctionAdmin, @Param('ref') ref: string, @Param('name') name: string) {
    return this.functions.remove(a, ref, name);
  }
}
