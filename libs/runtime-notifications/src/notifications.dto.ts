import { z } from 'zod';
import { ZodValidationPipe } from '@plinth/common';

/** `body` validated by `schema` (400 `validation_failed` listing every problem), as the management API validates. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return new ZodValidationPipe(schema).transform(body, { type: 'body' });
}

/** A query string validated by `schema` (each parameter once; repeats are refused by the schema's string types). */
export function parseQuery<T extends z.ZodType>(schema: T, query: string): z.infer<T> {
  const params = new URLSearchParams(query);
  const obj: Record<string, string | string[]> = {};
  for (const [k, v] of params) obj[k] = k in obj ? [obj[k] as string, v].flat() : v;
  return new ZodValidationPipe(schema).transform(obj, { type: 'query' });
}

export const CHANNELS = ['inapp', 'webhook', 'email', 'push'] as const;

/** `POST /p/:ref/notifications/v1/send`. */
export const sendSchema = z
  .object({
    to: z
      .object({
        user_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a user id (a UUID)').optional(),
        email: z.email().max(254).optional(),
        topic: z.string().regex(/^[a-z0-9][a-z0-9_.:-]{0,99}$/, 'must be a topic name').optional(),
      })
      .strict()
      .refine((v) => v.user_id !== undefined || v.email !== undefined || v.topic !== undefined, { message: 'give user_id and/or email, or topic' })
      .refine((v) => v.topic === undefined || (v.user_id === undefined && v.email === undefined), { message: 'a topic send names no user_id or email' }),
    content: z.object({ title: z.string().max(500).optional(), body: z.string().max(10_000).optional() }).strict().optional(),
    template: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'must be a template name').optional(),
    data: z.record(z.string(), z.unknown()).optional(),
    channels: z.array(z.enum(CHANNELS)).min(1).max(CHANNELS.length).optional(),
    idempotency_key: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 printable ASCII characters without spaces').optional(),
  })
  .strict()
  .refine((v) => JSON.stringify(v.data ?? {}).length <= 32_768, { path: ['data'], message: 'must be at most 32 KiB as JSON' })
  .refine((v) => (v.content === undefined) !== (v.template === undefined), { path: ['content'], message: 'give content or template (one of them)' })
  .refine((v) => !(v.channels ?? []).includes('inapp') || v.to.user_id !== undefined || v.to.topic !== undefined, { path: ['to', 'user_id'], message: 'the inapp channel needs to.user_id or to.topic' })
  .refine((v) => !(v.channels ?? []).includes('push') || v.to.user_id !== undefined || v.to.topic !== undefined, { path: ['to', 'user_id'], message: 'the push channel needs to.user_id or to.topic' })
  .refine((v) => !(v.channels ?? []).includes('email') || v.to.email !== undefined || v.to.user_id !== undefined || v.to.topic !== undefined, { path: ['to', 'email'], message: 'the email channel needs to.email, to.user_id or to.topic' });
export type SendInput = z.infer<typeof sendSchema>;

const bool = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1' || v === '');

export const inboxQuerySchema = z
  .object({
    unread: bool.optional(),
    archived: bool.optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    before: z.string().regex(/^[0-9]{1,18}$/, 'must be a cursor from a previous page').optional(),
  })
  .strict();

export const inboxPatchSchema = z
  .object({ read: z.boolean().optional(), archived: z.boolean().optional() })
  .strict()
  .refine((v) => v.read !== undefined || v.archived !== undefined, { message: 'give read and/or archived' });

export const streamQuerySchema = z
  .object({
    last_event_id: z.string().regex(/^[0-9]{1,18}$/).optional(),
    apikey: z.string().max(500).optional(),
    access_token: z.string().max(8000).optional(),
  })
  .strict();

const EVENT = /^(\*|notification\.sent|webhook\.test|[a-z_][a-z0-9_]{0,62}\.(insert|update|delete)|user\.(created|deleted|signed_in))$/;
const webhookUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials');

export const createWebhookSchema = z
  .object({
    url: webhookUrl,
    events: z.array(z.string().regex(EVENT, 'must be notification.sent, <table>.insert|update|delete, user.created|deleted|signed_in or *')).min(1).max(50),
    description: z.string().max(500).optional(),
    /** Deliveries to this endpoint in flight at once, across every worker (default 4). */
    max_concurrency: z.number().int().min(1).max(50).optional(),
  })
  .strict();
export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

export const updateWebhookSchema = createWebhookSchema.partial().strict();
export type UpdateWebhookInput = z.infer<typeof updateWebhookSchema>;

export const rotateWebhookSchema = z
  .object({ overlap_seconds: z.number().int().min(0).max(7 * 86_400).optional() })
  .strict();
export type RotateWebhookInput = z.infer<typeof rotateWebhookSchema>;

export const deliveriesQuerySchema = z
  .object({
    status: z.enum(['pending', 'retrying', 'succeeded', 'dead']).optional(),
    channel: z.enum(CHANNELS).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type DeliveriesQuery = z.infer<typeof deliveriesQuerySchema>;

const tpl = (max: number) => z.string().max(max);
/** Events a template trigger can follow: a declared table's writes and the auth runtime's user events. */
const TRIGGER_EVENT = /^([a-z][a-z0-9_]{0,62}\.(insert|update|delete)|user\.(created|deleted|signed_in))$/;
/** A template's parts per channel; each string is a Liquid template rendered with the send's `data`. */
const templateParts = {
  description: z.string().max(500).optional(),
  email: z.object({ subject: tpl(1_000), text: tpl(50_000).optional(), html: tpl(100_000).optional() }).strict().optional(),
  inapp: z.object({ title: tpl(1_000).optional(), body: tpl(20_000).optional() }).strict().optional(),
  webhook: z
    .object({ payload: z.record(z.string(), z.unknown()) })
    .strict()
    .refine((v) => JSON.stringify(v.payload).length <= 32_768, { message: 'payload must be at most 32 KiB as JSON' })
    .optional(),
  digest: z
    .object({
      window_seconds: z.number().int().min(1).max(86_400),
      key: tpl(500).optional(),
    })
    .strict()
    .optional(),
  triggers: z
    .array(
      z
        .object({
          event: z.string().regex(TRIGGER_EVENT, 'must be <table>.insert|update|delete or user.created|deleted|signed_in'),
          user_id_column: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a column name').optional(),
          channels: z.array(z.enum(['inapp', 'email', 'push'])).min(1).max(3).optional(),
        })
        .strict()
        .refine((v) => v.event.startsWith('user.') || v.user_id_column !== undefined, { path: ['user_id_column'], message: 'a table event names the column holding the user id' }),
    )
    .max(10)
    .optional(),
};
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const createTemplateSchema = z
  .object({ name: z.string().regex(TEMPLATE_NAME, 'must be 1 to 64 of a-z, 0-9, _ . - (starting with a letter or digit)'), ...templateParts })
  .strict()
  .refine((v) => v.email || v.inapp || v.webhook, { message: 'give at least one of email, inapp, webhook' });
export type CreateTemplateInput = z.infer<typeof createTemplateSchema>;

export const updateTemplateSchema = z
  .object({
    name: z.string().regex(TEMPLATE_NAME).optional(),
    description: templateParts.description,
    email: templateParts.email.nullable(),
    inapp: templateParts.inapp.nullable(),
    webhook: templateParts.webhook.nullable(),
    digest: templateParts.digest.nullable(),
    triggers: templateParts.triggers,
  })
  .strict();
export type UpdateTemplateInput = z.infer<typeof updateTemplateSchema>;

export const previewTemplateSchema = z
  .object({ data: z.record(z.string(), z.unknown()).default({}) })
  .strict()
  .refine((v) => JSON.stringify(v.data).length <= 32_768, { path: ['data'], message: 'must be at most 32 KiB as JSON' });
export type PreviewTemplateInput = z.infer<typeof previewTemplateSchema>;

export const templateViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  email: z.object({ subject: z.string(), text: z.string().optional(), html: z.string().optional() }).nullable(),
  inapp: z.object({ title: z.string().optional(), body: z.string().optional() }).nullable(),
  webhook: z.object({ payload: z.record(z.string(), z.unknown()) }).nullable(),
  digest: z.object({ window_seconds: z.number(), key: z.string().optional() }).nullable(),
  triggers: z.array(z.object({ event: z.string(), user_id_column: z.string().optional(), channels: z.array(z.string()).optional() })),
  created_at: z.string(),
  updated_at: z.string(),
});

export const renderedSchema = z.object({
  email: z.object({ subject: z.string(), text: z.string(), html: z.string().nullable() }).nullable(),
  inapp: z.object({ title: z.string().nullable(), body: z.string().nullable() }).nullable(),
  webhook: z.object({ payload: z.record(z.string(), z.unknown()) }).nullable(),
});

export const TOPIC = /^[a-z0-9][a-z0-9_.:-]{0,99}$/;
export const topicSchema = z.string().regex(TOPIC, 'must be 1 to 100 of a-z, 0-9, _ . : - (starting with a letter or digit)');

/** `PUT /preferences`: the whole document; a channel or topic left out is on. */
export const preferencesSchema = z
  .object({
    channels: z.object({ inapp: z.boolean().optional(), email: z.boolean().optional(), push: z.boolean().optional() }).strict().optional(),
    topics: z
      .record(topicSchema, z.boolean())
      .refine((v) => Object.keys(v).length <= 200, 'at most 200 topics')
      .optional(),
  })
  .strict();
export type PreferencesInput = z.infer<typeof preferencesSchema>;

export const unsubscribeQuerySchema = z.object({ token: z.string().max(1000).optional() }).strict();

const b64url = (min: number, max: number) => z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url').min(min).max(max);
/** `POST /push/subscriptions`: a browser's PushSubscription.toJSON(). */
export const pushSubscriptionSchema = z
  .object({
    endpoint: z.string().max(2000).refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
      } catch {
        return false;
      }
    }, 'must be an http(s) URL without credentials'),
    expirationTime: z.number().nullable().optional(),
    keys: z.object({ p256dh: b64url(80, 100), auth: b64url(16, 30) }).strict(),
  })
  .strict();
export type PushSubscriptionInput = z.infer<typeof pushSubscriptionSchema>;
export const pushUnsubscribeSchema = z.object({ endpoint: z.string().max(2000) }).strict();

export const webhookViewSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string(),
  max_concurrency: z.number(),
  previous_secret_expires_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const webhookWithSecretSchema = webhookViewSchema.extend({ secret: z.string() });
export const deliveryViewSchema = z.object({
  id: z.string(),
  message_id: z.string(),
  channel: z.enum(CHANNELS),
  endpoint_id: z.string().nullable(),
  event: z.string(),
  status: z.enum(['pending', 'retrying', 'succeeded', 'dead']),
  attempt_count: z.number(),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export const deliveriesViewSchema = z.object({
  deliveries: z.array(
    deliveryViewSchema.extend({
      attempts: z.array(z.object({ attempt: z.number(), status: z.number().nullable(), latency_ms: z.number(), error: z.string().nullable(), response_excerpt: z.string().nullable(), at: z.string() })),
    }),
  ),
});
