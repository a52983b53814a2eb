import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import {
  CreateWebhookInput, createWebhookSchema, DeliveriesQuery, deliveriesQuerySchema, RotateWebhookInput, rotateWebhookSchema, UpdateWebhookInput, updateWebhookSchema,
} from './notifications.dto';
import { WebhooksService } from './webhooks.service';

@ApiTags('notifications')
@Controller('v1/projects/:ref/webhooks')
@ConsoleApi()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** A new endpoint; its signing secret (`whsec_…`) is in this response only. */
  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createWebhookSchema)
  create(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createWebhookSchema) body: CreateWebhookInput) {
    return this.webhooks.create(p, ref, body);
  }

  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.webhooks.list(p, ref);
  }

  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.get(p, ref, id);
  }

  @Patch(':id')
  @RequirePermission('update', 'Project')
  @ApiZodBody(updateWebhookSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(updateWebhookSchema) body: UpdateWebhookInput) {
    return this.webhooks.update(p, ref, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('update', 'Project')
  remove(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.remove(p, ref, id);
  }

  /** A new secret (shown once); the previous one keeps signing alongside it for `overlap_seconds` (default 24 h). */
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  @ApiZodBody(rotateWebhookSchema)
  rotate(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(rotateWebhookSchema) body: RotateWebhookInput) {
    return this.webhooks.rotate(p, ref, id, body);
  }

  @Post(':id/test')
  @HttpCode(202)
  @RequirePermission('update', 'Project')
  test(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.test(p, ref, id);
  }
}

@ApiTags('notifications')
@Controller('v1/projects/:ref/notifications')
@ConsoleApi()
export class DeliveriesController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** The delivery log, newest first, with every attempt's status, latency and response excerpt. */
  @Get('deliveries')
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(deliveriesQuerySchema) q: DeliveriesQuery) {
    return this.webhooks.deliveries(p, ref, q);
  }

  @Post('deliveries/:id/replay')
  @HttpCode(202)
  @RequirePermission('update', 'Project')
  replay(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.replay(p, ref, id);
  }
}
