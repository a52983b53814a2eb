import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, UuidParam, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { createKeySchema, CreateKeyInput, rotateKeySchema, RotateKeyInput } from '@plinth/keys';
import { apiKeySchema, createdApiKeySchema, createdProjectSchema, projectSchema, rotatedApiKeySchema } from './projects.responses';
import { ProjectsService } from './projects.service';

const projectNameSchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();

@ApiTags('projects')
@Controller('v1')
@ConsoleApi()
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @ApiEndpoint({ summary: 'Create a project', description: "Provisions a project (its own Postgres schema and roles) in the organization and returns it with its default publishable and secret keys, shown only here. Counts against the plan's projects per organization.", status: 201, response: createdProjectSchema })
  @Post('orgs/:orgId/projects')
  @RequirePermission('create', 'Project')
  @ApiZodBody(projectNameSchema)
  create(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @ZodBody(projectNameSchema) body: z.infer<typeof projectNameSchema>,
  ) {
    return this.projects.create(p, orgId, body.name);
  }

  @ApiEndpoint({ summary: 'List projects', description: "The organization's projects.", response: z.array(projectSchema) })
  @Get('orgs/:orgId/projects')
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.projects.list(p, orgId);
  }

  @ApiEndpoint({ summary: 'Get a project', description: 'One project, by its ref, with the endpoint apps use.', response: projectSchema })
  @Get('projects/:ref')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.get(p, ref);
  }

  @ApiEndpoint({ summary: 'Rename a project', description: 'Renames the project.', response: projectSchema })
  @Patch('projects/:ref')
  @RequirePermission('update', 'Project')
  @ApiZodBody(projectNameSchema)
  rename(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(projectNameSchema) body: z.infer<typeof projectNameSchema>) {
    return this.projects.rename(p, ref, body.name);
  }

  @ApiEndpoint({ summary: 'Delete a project', description: 'Deletes the project: its schema, roles, keys and data are dropped; its address answers 404 afterwards.', status: 204 })
  @Delete('projects/:ref')
  @RequirePermission('delete', 'Project')
  @HttpCode(204)
  delete(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.delete(p, ref);
  }

  @ApiEndpoint({ summary: 'List API keys', description: "The project's API keys (never the keys themselves), revoked and expiring ones included.", response: z.array(apiKeySchema) })
  @Get('projects/:ref/keys')
  @RequirePermission('read', 'ApiKey')
  listKeys(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.listKeys(p, ref);
  }

  @ApiEndpoint({ summary: 'Create an API key', description: 'A publishable, secret or restricted key (scopes, tables or buckets, read-only, expiry, allowed origins and IPs). The key is shown once, in this answer.', status: 201, response: createdApiKeySchema })
  @Post('projects/:ref/keys')
  @RequirePermission('create', 'ApiKey')
  @ApiZodBody(createKeySchema)
  createKey(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createKeySchema) body: CreateKeyInput) {
    return this.projects.createKey(p, ref, body);
  }

  @ApiEndpoint({ summary: 'Revoke an API key', description: 'Revokes the key; every instance refuses it within seconds.', response: apiKeySchema })
  @Delete('projects/:ref/keys/:id')
  @RequirePermission('delete', 'ApiKey')
  revokeKey(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @UuidParam('id', 'API key') id: string) {
    return this.projects.revokeKey(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Rotate an API key', description: 'A new key with the same settings; the old one stays valid until expire_old_at (now by default).', status: 201, response: rotatedApiKeySchema })
  @Post('projects/:ref/keys/:id/rotate')
  @RequirePermission('create', 'ApiKey')
  @ApiZodBody(rotateKeySchema)
  rotateKey(
    @CurrentPrincipal() p: Principal,
    @Param('ref') ref: string,
    @UuidParam('id', 'API key') id: string,
    @ZodBody(rotateKeySchema) body: RotateKeyInput,
  ) {
    return this.projects.rotateKey(p, ref, id, body);
  }
}
