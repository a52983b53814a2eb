import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint, ApiZodBody, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import {
  CreateWebhookInput, createWebhookSchema, DeliveriesQuery, deliveriesQuerySchema, RotateWebhookInput, rotateWebhookSchema, UpdateWebhookInput, updateWebhookSchema,
} from './notifications.dto';
import { deliveryLogSchema, deliverySchema, webhookSchema, webhookTestSchema, webhookWithSecretSchema } from './webhooks.responses';
import { WebhooksService } from './webhooks.service';

@ApiTags('notifications')
@Controller('v1/projects/:ref/webhooks')
@ConsoleApi()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  /** A new endpoint; its signing secret (`whsec_…`) is in this response only. */
  @ApiEndpoint({ summary: 'Create a webhook', description: 'Adds an endpoint receiving the listed events (notification.sent, <table>.insert|update|delete, user.created|deleted|signed_in, or *), signed per Standard Webhooks. Its signing secret (whsec_...) is in this response only: store it now, it is never shown again. A URL with credentials, or naming a non-public address, is refused with 400. Console users with the developer role and up.', status: 201, response: webhookWithSecretSchema })
  @Post()
  @RequirePermission('update', 'Project')
  @ApiZodBody(createWebhookSchema)
  create(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createWebhookSchema) body: CreateWebhookInput) {
    return this.webhooks.create(p, ref, body);
  }

  @ApiEndpoint({ summary: 'List webhooks', description: "The project's webhook endpoints, without their secrets. Console users: any member of the project's organization.", response: z.array(webhookSchema) })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.webhooks.list(p, ref);
  }

  @ApiEndpoint({ summary: 'Get a webhook', description: "One webhook endpoint, without its secret; 404 for an id not in this project. Console users: any member of the project's organization.", response: webhookSchema })
  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.get(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Change a webhook', description: 'Changes the URL, events or description of an endpoint (the secret stays; rotate it separately). A URL naming a non-public address is refused with 400. Console users with the developer role and up.', response: webhookSchema })
  @Patch(':id')
  @RequirePermission('update', 'Project')
  @ApiZodBody(updateWebhookSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(updateWebhookSchema) body: UpdateWebhookInput) {
    return this.webhooks.update(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Delete a webhook', description: 'Deletes an endpoint; nothing more is sent to it. Console users with the developer role and up.', status: 204 })
  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('update', 'Project')
  remove(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.remove(p, ref, id);
  }

  /** A new secret (shown once); the previous one keeps signing alongside it for `overlap_seconds` (default 24 h). */
  @ApiEndpoint({ summary: 'Rotate a webhook secret', description: 'Issues a new signing secret, in this response only (never shown again). The previous secret keeps signing alongside it for overlap_seconds (default 24 h, at most 7 days), so receivers can switch without dropping deliveries. Console users with the developer role and up.', response: webhookWithSecretSchema })
  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  @ApiZodBody(rotateWebhookSchema)
  rotate(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(rotateWebhookSchema) body: RotateWebhookInput) {
    return this.webhooks.rotate(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Send a test event', description: 'Queues a webhook.test event to this endpoint alone, through the same queue, signing, retries and delivery log as any delivery; follow it in the delivery log by delivery_id. Console users with the developer role and up.', status: 202, response: webhookTestSchema })
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
  @ApiEndpoint({ summary: 'List deliveries', description: "The delivery log (webhook, in-app and email), newest first, each with every attempt: HTTP status, latency, error and response excerpt. Filters: status, channel, since; limit up to 200 (default 50). Console users: any member of the project's organization.", response: deliveryLogSchema })
  @Get('deliveries')
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(deliveriesQuerySchema) q: DeliveriesQuery) {
    return this.webhooks.deliveries(p, ref, q);
  }

  @ApiEndpoint({ summary: 'Replay a delivery', description: 'Sends a dead (or succeeded) webhook delivery again with a fresh round of attempts. Refused with 409 while it is still pending or retrying, and with 400 for a delivery on another channel than webhook. Console users with the developer role and up.', status: 202, response: deliverySchema })
  @Post('deliveries/:id/replay')
  @HttpCode(202)
  @RequirePermission('update', 'Project')
  replay(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.webhooks.replay(p, ref, id);
  }
}
