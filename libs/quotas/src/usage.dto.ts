import { z } from 'zod';
import { BASE_METERS, isMeter } from '@plinth/metering';

const HOUR = 3600_000;
/** Longest range per granularity (minute rows are kept for 48 hours). */
export const MAX_RANGE_MS = { minute: 48 * HOUR, hour: 62 * 24 * HOUR, day: 400 * 24 * HOUR } as const;

export const usageQuerySchema = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    granularity: z.enum(['minute', 'hour', 'day']).default('day'),
    meter: z.string().max(80).refine(isMeter, `must be one of ${BASE_METERS.join(', ')} (optionally with a ":dimension")`).optional(),
  })
  .strict();
export type UsageQuery = z.infer<typeof usageQuerySchema>;

const rateLimit = z
  .object({
    limit: z.number().int().min(1).max(1_000_000),
    window_s: z.number().int().min(1).max(3600),
  })
  .strict();

/** `PUT /v1/projects/:ref/limits`: the whole set (omitted fields are cleared). */
export const limitsSchema = z
  .object({
    spend_cap_cents: z.number().int().min(0).max(1e12).nullable().default(null),
    meter_caps: z.partialRecord(z.enum(BASE_METERS as [string, ...string[]]), z.number().min(0).max(1e18)).default({}),
    rate_limit: rateLimit.nullable().default(null),
    alert_webhook_url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .nullable()
      .default(null),
  })
  .strict();
export type LimitsInput = z.infer<typeof limitsSchema>;
