import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import {
  CreateWebhookInput, createWebhookSchema, DeliveriesQuery, deliveriesQuerySchema, deliveriesViewSchema, deliveryViewSchema, webhookViewSchema, webhookWithSecretSchema, RotateWebhookInput, rotateWebhookSchema, UpdateWebhookInput, updateWebhookSchema,
} from './notifications.dto';
import { WebhooksService } from './webhooks.service';

@ApiTags('notifications')
@Controller('v1/projects/:ref/webhooks')
@ConsoleApi()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** A new endpoint; its signing secret (`whsec_…`) is in this response only. */
  @ApiEndpoint({ summary: 'Create a webhook endpoint', description: 'A new endpoint for the given events; its signing secret (whsec_…) is in this response only. 400 for a private URL in production.', status: 201, response: webhookWithSecretSchema })
  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createWebhookSchema)
  create(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createWebhookSchema) body: CreateWebhookInput) {
    return this.webhooks.create(p, ref, body);
  }

  @ApiEndpoint({ summary: 'List webhook endpoints', description: "The project's endpoints, without secrets.", response: z.array(webhookViewSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.webhooks.list(p, ref);
  }

  @ApiEndpoint({ summary: 'Get a webhook endpoint', description: 'One endpoint, without its secret.', response: webhookViewSchema })
  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.get(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Change a webhook endpoint', description: 'Changes the URL, events or description.', response: webhookViewSchema })
  @Patch(':id')
  @RequirePermission('update', 'Project')
  @ApiZodBody(updateWebhookSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(updateWebhookSchema) body: UpdateWebhookInput) {
    return this.webhooks.update(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Delete a webhook endpoint', description: 'Removes the endpoint; its pending deliveries stop.', status: 204 })
  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('update', 'Project')
  remove(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.remove(p, ref, id);
  }

  /** A new secret (shown once); the previous one keeps signing alongside it for `overlap_seconds` (default 24 h). */
  @ApiEndpoint({ summary: "Rotate a webhook endpoint's secret", description: 'A new secret (shown once); the previous one keeps signing alongside it for overlap_seconds.', response: webhookWithSecretSchema })
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  @ApiZodBody(rotateWebhookSchema)
  rotate(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(rotateWebhookSchema) body: RotateWebhookInput) {
    return this.webhooks.rotate(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Test-send to a webhook endpoint', description: 'Sends a webhook.test event to this endpoint.', status: 202, response: z.object({ delivery_id: z.string(), message_id: z.string() }) })
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
  @ApiEndpoint({ summary: 'List notification deliveries', description: 'The delivery log, newest first, with every attempt.', response: deliveriesViewSchema })
  @Get('deliveries')
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(deliveriesQuerySchema) q: DeliveriesQuery) {
    return this.webhooks.deliveries(p, ref, q);
  }

  @ApiEndpoint({ summary: 'Replay a delivery', description: 'Sends a dead or delivered webhook delivery again with a fresh round of attempts (409 while it is still being tried).', status: 202, response: deliveryViewSchema })
  @Post('deliveries/:id/replay')
  @HttpCode(202)
  @RequirePermission('update', 'Project')
  replay(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.replay(p, ref, id);
  }
}
