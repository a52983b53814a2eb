import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';

/** Response schemas of the billing endpoints, for the OpenAPI document. Amounts are in minor units of `currency`. */
export const billingOverviewSchema = z.object({
  org_id: apiId,
  mode: z.enum(['stripe', 'ledger_only']),
  currency: z.string(),
  plan: z.object({ id: z.string(), name: z.string() }),
  pending_plan: z.object({ id: z.string(), effective_at: apiTime }).nullable().describe('A downgrade taking effect at the period end'),
  price_version: z.number().int().nullable(),
  period: z.object({ start: apiTime, end: apiTime }),
  base_fee_minor: z.number(),
  meters: z.record(
    z.string(),
    z.object({
      used: z.number(),
      included: z.number(),
      overage: z.number(),
      unit_price_minor: z.string().nullable().describe('Decimal string; null when the meter is priced in tiers'),
      tiers: z.array(z.record(z.string(), z.unknown())).nullable(),
      cost_minor: z.number(),
      projected_minor: z.number(),
    }),
  ),
  cost_to_date_minor: z.number(),
  projected_minor: z.number(),
  subscription: z.object({ status: z.string().nullable() }).nullable(),
  payment_method: z.object({ added_at: apiTime }).nullable(),
  delinquency: z.object({ state: z.string(), since: apiTime.nullable(), read_only_at: apiTime.nullable(), suspended_at: apiTime.nullable() }),
  reporting: z.object({ pending: z.number(), oldest_pending_hour: apiTime.nullable() }).nullable().describe('Usage hours not yet reported to Stripe'),
});

export const planChangeSchema = billingOverviewSchema.extend({ change: z.enum(['upgrade', 'downgrade', 'cancel_downgrade', 'none']) });

export const invoiceSchema = z.object({
  id: z.string(),
  source: z.string(),
  number: z.string().nullable(),
  reason: z.string().nullable(),
  status: z.string(),
  currency: z.string(),
  period: z.object({ start: apiTime, end: apiTime }),
  total_minor: z.number(),
  amount_paid_minor: z.number(),
  hosted_url: z.string().nullable(),
  lines: z.array(z.record(z.string(), z.unknown())).describe('Per meter and per project'),
  created_at: apiTime,
});

export const checkoutSessionSchema = z.object({ id: z.string(), url: z.string().nullable().describe('Send the user here to add a payment method') });
export const portalSessionSchema = z.object({ url: z.string() });
