/**
 * The price book as data, and the arithmetic both modes share: the same tiers price the local invoice and are
 * sent to Stripe as the metered prices, so a ledger-only invoice and Stripe's agree to the minor unit.
 */

/** A tier of overage: `up_to` units past the included amount (null = no bound), priced per unit, plus a flat fee. */
export interface OverageTier {
  up_to: number | null;
  /** Minor units per unit, as a decimal string (fractions of a cent are common: "0.0002"). */
  unit_price: string;
  flat_minor?: number;
}

/** What one meter costs under a plan version. */
export interface MeterPrice {
  /** Units per period included in the base fee (per org). */
  included: number;
  /** Minor units per unit past the included amount (decimal string); ignored when `tiers` is set. */
  unit_price: string;
  /** Graduated tiers over the units past the included amount. */
  tiers?: OverageTier[];
}

/** One version of a plan's prices; it applies to billing periods that start on or after `effective_from`. */
export interface PriceVersion {
  plan_id: string;
  version: number;
  effective_from: Date;
  currency: string;
  base_fee_minor: number;
  meters: Record<string, MeterPrice>;
}

/** A price in Stripe's terms (what `stripe:sync` creates and what the local invoice applies). */
export interface PriceModel {
  billingScheme: 'per_unit' | 'tiered';
  /** Minor units per unit (per_unit), decimal string. */
  unitAmount: string;
  /** Graduated tiers, `upTo` inclusive and absolute (null = inf). */
  tiers: Array<{ upTo: number | null; unitAmount: string; flatAmount: number }>;
}

/** The meter's price as Stripe models it: a free first tier up to the included amount, then the overage tiers. */
export function priceModel(p: MeterPrice): PriceModel {
  const overage = p.tiers?.length ? p.tiers : [{ up_to: null, unit_price: p.unit_price }];
  if (p.included <= 0 && overage.length === 1 && !overage[0].flat_minor) {
    return { billingScheme: 'per_unit', unitAmount: overage[0].unit_price, tiers: [] };
  }
  const tiers: PriceModel['tiers'] = p.included > 0 ? [{ upTo: p.included, unitAmount: '0', flatAmount: 0 }] : [];
  for (const t of overage) tiers.push({ upTo: t.up_to === null ? null : p.included + t.up_to, unitAmount: t.unit_price, flatAmount: t.flat_minor ?? 0 });
  tiers[tiers.length - 1].upTo = null;
  return { billingScheme: 'tiered', unitAmount: '0', tiers };
}

/** Guards against binary float noise (0.1 × 3) before rounding to an integer minor unit. */
function roundMinor(amount: number): number {
  return Math.round(Number(amount.toFixed(6)));
}

/**
 * Amount of a quantity under a price, in integer minor units, the way Stripe prices it: graduated tiers each
 * price the units falling into them (plus their flat fee once reached); the line total is rounded once.
 */
export function amountFor(model: PriceModel, quantity: number): number {
  if (!(quantity > 0)) return 0;
  if (model.billingScheme === 'per_unit') return roundMinor(quantity * Number(model.unitAmount));
  let total = 0;
  let lower = 0;
  for (const tier of model.tiers) {
    const upper = tier.upTo ?? Infinity;
    const units = Math.min(quantity, upper) - lower;
    if (units <= 0) break;
    total += units * Number(tier.unitAmount) + tier.flatAmount;
    lower = upper;
  }
  return roundMinor(total);
}

/** Amount of one meter's period quantity under a plan version. */
export function meterAmount(p: MeterPrice | undefined, quantity: number): number {
  return p ? amountFor(priceModel(p), quantity) : 0;
}

/** Stripe's proration of a licensed amount: the unused share of the period, rounded per line. */
export function prorate(amountMinor: number, periodStart: Date, periodEnd: Date, at: Date): number {
  const total = Math.floor(periodEnd.getTime() / 1000) - Math.floor(periodStart.getTime() / 1000);
  if (total <= 0) return 0;
  const unused = Math.max(0, Math.floor(periodEnd.getTime() / 1000) - Math.floor(at.getTime() / 1000)) / total;
  return Math.round(amountMinor * unused);
}

/**
 * Splits `total` minor units over weights (e.g. each project's share of a meter's usage) so the parts are
 * integers that add up to `total` exactly (largest remainder; ties by key order).
 */
export function allocate(total: number, weights: ReadonlyArray<readonly [string, number]>): Map<string, number> {
  const out = new Map<string, number>(weights.map(([k]) => [k, 0]));
  const sum = weights.reduce((s, [, w]) => s + Math.max(0, w), 0);
  if (total === 0 || sum <= 0) return out;
  const exact = weights.map(([k, w]) => ({ k, v: (total * Math.max(0, w)) / sum }));
  let given = 0;
  for (const e of exact) {
    const floor = Math.floor(e.v);
    out.set(e.k, floor);
    given += floor;
  }
  const order = [...exact].sort((a, b) => b.v - Math.floor(b.v) - (a.v - Math.floor(a.v)) || a.k.localeCompare(b.k));
  for (let i = 0; given < total && order.length; i = (i + 1) % order.length) {
    out.set(order[i].k, (out.get(order[i].k) ?? 0) + 1);
    given++;
  }
  return out;
}

/** Adds calendar months in UTC, clamping the day like Stripe's billing anchors (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(at: Date, months: number): Date {
  const d = new Date(at.getTime());
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  const days = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), days));
  return target;
}

const HOUR_MS = 3600_000;

/**
 * Usage of hour H is reported to Stripe with the timestamp of the hour's last second, so it belongs to the
 * period containing H + 59:59. These are the hour rows [from, to) that make up the period [start, end).
 */
export function hoursOfPeriod(start: Date, end: Date): { from: Date; to: Date } {
  const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;
  return { from: new Date(ceilHour(start.getTime() - HOUR_MS + 1000)), to: new Date(ceilHour(end.getTime() - HOUR_MS + 1000)) };
}

/** `2030-01-01T10`: the hour part of a meter event identifier. */
export function hourKey(hour: Date): string {
  return hour.toISOString().slice(0, 13);
}

/** `<org>:<meter>:<hour>`, plus `:c<n>` for the n-th reconciliation correction of that hour. */
export function meterEventIdentifier(orgId: string, meter: string, hour: Date, seq = 0): string {
  return `${orgId}:${meter}:${hourKey(hour)}${seq > 0 ? `:c${seq}` : ''}`;
}
