/**
 * Amount calculation for a price and a quantity, the way Stripe documents its billing schemes:
 * - per_unit: quantity x unit amount (unit_amount_decimal allows fractions of the minor unit);
 * - tiered + graduated: each tier prices the units that fall into it, plus its flat amount when reached;
 * - tiered + volume: the tier the total quantity falls into prices every unit, plus that tier's flat amount;
 * - transform_quantity: quantity is divided (and rounded up/down) before pricing.
 * Line amounts are rounded to the nearest integer minor unit.
 *
 * Assumption (not verified against Stripe): a quantity of 0 costs 0, even for tiers with a flat amount.
 */

export interface TierModel {
  /** Inclusive upper bound; null means infinity (`up_to=inf`). */
  upTo: number | null;
  unitAmount: number;
  flatAmount: number;
}

export interface PriceModel {
  billingScheme: 'per_unit' | 'tiered';
  unitAmount: number;
  tiersMode: 'graduated' | 'volume' | null;
  tiers: TierModel[];
  transformQuantity: { divideBy: number; round: 'up' | 'down' } | null;
}

function roundMinor(amount: number): number {
  // Guard against binary float noise such as 0.1 * 3 = 0.30000000000000004 before rounding.
  return Math.round(Number(amount.toFixed(6)));
}

export function amountFor(price: PriceModel, rawQuantity: number): number {
  let quantity = rawQuantity;
  if (price.transformQuantity) {
    const divided = quantity / price.transformQuantity.divideBy;
    quantity = price.transformQuantity.round === 'up' ? Math.ceil(divided) : Math.floor(divided);
  }
  if (quantity <= 0) return 0;
  if (price.billingScheme === 'per_unit') return roundMinor(quantity * price.unitAmount);

  const tiers = [...price.tiers].sort((a, b) => (a.upTo ?? Infinity) - (b.upTo ?? Infinity));
  if (price.tiersMode === 'volume') {
    const tier = tiers.find((t) => t.upTo === null || quantity <= t.upTo) ?? tiers[tiers.length - 1];
    if (!tier) return 0;
    return roundMinor(quantity * tier.unitAmount + tier.flatAmount);
  }
  let total = 0;
  let lowerBound = 0;
  for (const tier of tiers) {
    const upper = tier.upTo ?? Infinity;
    const unitsInTier = Math.min(quantity, upper) - lowerBound;
    if (unitsInTier <= 0) break;
    total += unitsInTier * tier.unitAmount + tier.flatAmount;
    lowerBound = upper;
  }
  return roundMinor(total);
}

/** Adds calendar months in UTC, clamping the day like Stripe's billing anchors (Jan 31 + 1 month = Feb 28/29). */
export function addInterval(unixSeconds: number, interval: 'day' | 'week' | 'month' | 'year', count: number): number {
  const d = new Date(unixSeconds * 1000);
  if (interval === 'day') return unixSeconds + 86_400 * count;
  if (interval === 'week') return unixSeconds + 7 * 86_400 * count;
  const months = interval === 'year' ? 12 * count : count;
  const targetMonth = d.getUTCMonth() + months;
  const firstOfTarget = new Date(Date.UTC(d.getUTCFullYear(), targetMonth, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const daysInTarget = new Date(Date.UTC(firstOfTarget.getUTCFullYear(), firstOfTarget.getUTCMonth() + 1, 0)).getUTCDate();
  firstOfTarget.setUTCDate(Math.min(d.getUTCDate(), daysInTarget));
  return Math.floor(firstOfTarget.getTime() / 1000);
}
