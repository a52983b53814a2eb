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

export const CHANNELS = ['inapp', 'webhook', 'email'] as const;

/** `POST /p/:ref/notifications/v1/send`. */
export const sendSchema = z
  .object({
    to: z
      .object({
        user_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a user id (a UUID)').optional(),
        email: z.email().max(254).optional(),
      })
      .strict()
      .refine((v) => v.user_id !== undefined || v.email !== undefined, { message: 'give user_id and/or email' }),
    content: z.object({ title: z.string().max(500).optional(), body: z.string().max(10_000).optional() }).strict(),
    data: z.record(z.string(), z.unknown()).optional(),
    channels: z.array(z.enum(CHANNELS)).min(1).max(CHANNELS.length).optional(),
    idempotency_key: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 printable ASCII characters without spaces').optional(),
  })
  .strict()
  .refine((v) => JSON.stringify(v.data ?? {}).length <= 32_768, { path: ['data'], message: 'must be at most 32 KiB as JSON' })
  .refine((v) => !(v.channels ?? []).includes('inapp') || v.to.user_id !== undefined, { path: ['to', 'user_id'], message: 'the inapp channel needs to.user_id' })
  .refine((v) => !(v.channels ?? []).includes('email') || v.to.email !== undefined, { path: ['to', 'email'], message: 'the email channel needs to.email' });
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
