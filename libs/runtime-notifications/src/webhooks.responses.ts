import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';
import { CHANNELS } from './notifications.dto';

/** Response schemas of the webhook and delivery-log endpoints, for the OpenAPI document. */
export const webhookSchema = z.object({
  id: apiId,
  url: z.string(),
  events: z.array(z.string()).describe('notification.sent, webhook.test, <table>.insert|update|delete, user.created|deleted|signed_in or *'),
  description: z.string(),
  previous_secret_expires_at: apiTime.nullable().describe('After a rotation: until when the previous secret still signs alongside the new one; null otherwise'),
  created_at: apiTime,
  updated_at: apiTime,
});

/** At creation and rotation only: the signing secret, never shown again. */
export const webhookWithSecretSchema = webhookSchema.extend({ secret: z.string().describe('Standard Webhooks signing secret (whsec_…); shown in this response only') });

export const webhookTestSchema = z.object({ delivery_id: apiId, message_id: apiId });

const DELIVERY_STATUS = ['pending', 'retrying', 'succeeded', 'dead'] as const;

export const deliverySchema = z.object({
  id: apiId,
  message_id: apiId,
  channel: z.enum(CHANNELS),
  endpoint_id: apiId.nullable().describe('The webhook endpoint, for webhook deliveries'),
  event: z.string(),
  status: z.enum(DELIVERY_STATUS),
  attempt_count: z.number().int(),
  next_attempt_at: apiTime.nullable(),
  created_at: apiTime,
  updated_at: apiTime,
});

export const deliveryLogSchema = z.object({
  deliveries: z.array(
    deliverySchema.extend({
      attempts: z.array(
        z.object({
          attempt: z.number().int(),
          status: z.number().int().nullable().describe("The endpoint's HTTP status; null when no answer came (refused, timed out)"),
          latency_ms: z.number().int(),
          error: z.string().nullable(),
          response_excerpt: z.string().nullable(),
          at: apiTime,
        }),
      ),
    }),
  ),
});
