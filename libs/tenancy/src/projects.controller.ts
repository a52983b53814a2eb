import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiZodBody, UuidParam, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { createKeySchema, CreateKeyInput, rotateKeySchema, RotateKeyInput } from '@plinth/keys';
import { ProjectsService } from './projects.service';

const projectNameSchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();

@ApiTags('projects')
@Controller('v1')
@ConsoleApi()
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

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

  @Get('orgs/:orgId/projects')
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.projects.list(p, orgId);
  }

  @Get('projects/:ref')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.get(p, ref);
  }

  @Patch('projects/:ref')
  @RequirePermission('update', 'Project')
  @ApiZodBody(projectNameSchema)
  rename(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(projectNameSchema) body: z.infer<typeof projectNameSchema>) {
    return this.projects.rename(p, ref, body.name);
  }

  @Delete('projects/:ref')
  @RequirePermission('delete', 'Project')
  @HttpCode(204)
  delete(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.delete(p, ref);
  }

  @Get('projects/:ref/keys')
  @RequirePermission('read', 'ApiKey')
  listKeys(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.projects.listKeys(p, ref);
  }

  @Post('projects/:ref/keys')
  @RequirePermission('create', 'ApiKey')
  @ApiZodBody(createKeySchema)
  createKey(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createKeySchema) body: CreateKeyInput) {
    return this.projects.createKey(p, ref, body);
  }

  @Delete('projects/:ref/keys/:id')
  @RequirePermission('delete', 'ApiKey')
  revokeKey(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @UuidParam('id', 'API key') id: string) {
    return this.projects.revokeKey(p, ref, id);
  }

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
