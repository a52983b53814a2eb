import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';

/** Response schemas of the plans, usage and limits endpoints, for the OpenAPI document. */
const rate = z.object({ limit: z.number().int(), window_s: z.number().int() });
const planRef = z.object({ id: z.string(), name: z.string() });
const period = z.object({ start: apiTime, end: apiTime });

export const planSchema = z.object({
  id: z.string(),
  name: z.string(),
  monthly_price_cents: z.number().int(),
  hard_caps: z.boolean().describe('Free plans stop at their included amounts (402); paid plans bill overage'),
  included: z.record(z.string(), z.number()).describe('Included amount per meter per period'),
  unit_price_cents: z.record(z.string(), z.unknown()).describe('Overage price per meter unit'),
  rate_limits: z.record(z.string(), rate).describe('Requests per window: per project, per key, per IP'),
  limits: z.record(z.string(), z.number()).describe('Structural limits (projects per org, tables, upload size, timeouts)'),
});

const meterUse = z.object({
  used: z.number(),
  included: z.number().nullable(),
  remaining: z.number().nullable(),
  cap: z.number().nullable(),
  sampled: z.boolean().optional().describe('A gauge (latest sample) rather than a sum'),
});

export const projectUsageSchema = z.object({
  project: z.object({ id: apiId, ref: z.string() }),
  plan: planRef,
  period,
  from: apiTime,
  to: apiTime,
  granularity: z.enum(['minute', 'hour', 'day']),
  meters: z.record(z.string(), meterUse).describe('Period totals per meter against the plan'),
  spend: z.object({ overage_cents: z.number(), cap_cents: z.number().nullable() }).nullable().describe('Overage so far against the spend cap; null on plans with hard caps'),
  series: z.array(z.object({ t: apiTime, meter: z.string(), quantity: z.number() })).describe('Usage per bucket of the granularity'),
});

export const orgUsageSchema = z.object({
  org_id: apiId,
  plan: planRef,
  period,
  totals: z.record(z.string(), meterUse),
  projects: z.array(z.object({ id: apiId, ref: z.string(), name: z.string(), meters: z.record(z.string(), z.number()) })),
});

export const limitsViewSchema = z.object({
  plan: z.string(),
  spend_cap_cents: z.number().nullable(),
  meter_caps: z.record(z.string(), z.number()),
  rate_limit: rate.nullable(),
  rate_limit_ceiling: rate.describe("The plan's per-project rate limit, the most rate_limit may be"),
  alert_webhook_url: z.string().nullable(),
});
