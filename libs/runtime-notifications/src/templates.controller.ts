import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import {
  CreateTemplateInput, createTemplateSchema, PreviewTemplateInput, previewTemplateSchema, renderedSchema, templateViewSchema, UpdateTemplateInput, updateTemplateSchema,
} from './notifications.dto';
import { TemplatesService } from './templates.service';

@ApiTags('notifications')
@Controller('v1/projects/:ref/notifications/templates')
@ConsoleApi()
export class TemplatesController {
  constructor(private readonly templates: TemplatesService) {}

  @ApiEndpoint({ summary: 'Create a notification template', description: 'A named template with a part per channel (email subject/text/html, in-app title/body, webhook payload), each a Liquid template rendered with the send\'s data. Refused (400) when a part does not parse; 409 when the name is taken.', status: 201, response: templateViewSchema })
  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createTemplateSchema)
  create(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createTemplateSchema) body: CreateTemplateInput) {
    return this.templates.create(p, ref, body);
  }

  @ApiEndpoint({ summary: 'List notification templates', description: "The project's templates, by name.", response: z.array(templateViewSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.templates.list(p, ref);
  }

  @ApiEndpoint({ summary: 'Get a notification template', description: 'One template of the project (404 for another project\'s).', response: templateViewSchema })
  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.templates.get(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Change a notification template', description: 'Changes the name, description or channel parts; a part set to null is removed (one must remain).', response: templateViewSchema })
  @Patch(':id')
  @RequirePermission('update', 'Project')
  @ApiZodBody(updateTemplateSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(updateTemplateSchema) body: UpdateTemplateInput) {
    return this.templates.update(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Delete a notification template', description: 'Removes the template; messages already sent keep what it rendered.', status: 204 })
  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('update', 'Project')
  remove(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.templates.remove(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Preview a notification template', description: 'Renders every part with the given data, as a send would, without sending anything.', response: renderedSchema })
  @Post(':id/preview')
  @HttpCode(200)
  @RequirePermission('read', 'Project')
  @ApiZodBody(previewTemplateSchema)
  preview(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(previewTemplateSchema) body: PreviewTemplateInput) {
    return this.templates.preview(p, ref, id, body);
  }
}
