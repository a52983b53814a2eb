import { Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { PlansService } from '@plinth/quotas';
import { priceLookupKey, productId, stripeEventName } from './billing.constants';
import { PriceModel, priceModel, PriceVersion } from './price-book';
import { PriceBookRepository } from './price-book.repository';
import { StripeCatalogKind, StripeCatalogRepository } from './stripe-catalog.repository';
import { isMissing, StripeClient } from './stripe-client';

export interface CatalogPrices {
  base: string;
  /** Metered price id per meter. */
  meters: Record<string, string>;
}

export interface SyncSummary {
  meters: Record<string, string>;
  prices: Record<string, string>;
  created: string[];
}

type Kind = StripeCatalogKind;

/**
 * The Stripe side of the price book: a Billing Meter per Plinth meter, a product per paid plan, and per plan
 * version a licensed base price plus one metered (tiered) price per meter, bound to its meter. `sync` creates
 * what is missing and finds what exists (by meter event name, product id and price lookup key), so running it
 * again (`npm run stripe:sync`) changes nothing. The ids are kept in control.stripe_catalog.
 */
@Injectable()
export class StripeCatalogService {
  private readonly logger = new Logger(StripeCatalogService.name);
  private cache: Map<string, string> | undefined;

  constructor(
    private readonly catalog: StripeCatalogRepository,
    private readonly stripe: StripeClient,
    private readonly priceBook: PriceBookRepository,
    private readonly plans: PlansService,
  ) {}

  async sync(): Promise<SyncSummary> {
    const created: string[] = [];
    const versions = await this.billableVersions();
    const meters = [...new Set(versions.flatMap((v) => Object.keys(v.meters)))].sort();
    const meterIds: Record<string, string> = {};
    let existingMeters: Stripe.Billing.Meter[] | undefined;
    for (const meter of meters) {
      let id = await this.lookup('meter', meter);
      if (!id) {
        existingMeters ??= await this.stripe.call('list meters', (s) => s.billing.meters.list({ status: 'active', limit: 100 }).autoPagingToArray({ limit: 10_000 }));
        id = existingMeters.find((m) => m.event_name === stripeEventName(meter))?.id;
        if (!id) {
          const m = await this.stripe.call('create meter', (s) =>
            s.billing.meters.create(
              {
                display_name: `Plinth ${meter.replace(/_/g, ' ')}`,
                event_name: stripeEventName(meter),
                default_aggregation: { formula: 'sum' },
                customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
                value_settings: { event_payload_key: 'value' },
              },
              { idempotencyKey: `plinth:meter:${meter}` },
            ),
          );
          id = m.id;
          created.push(`meter ${meter}`);
        }
        await this.store('meter', meter, id);
      }
      meterIds[meter] = id;
    }

    const prices: Record<string, string> = {};
    for (const v of versions) {
      const product = await this.ensureProduct(v.plan_id, created);
      const parts: Array<[string, Omit<Stripe.PriceCreateParams, 'lookup_key' | 'product' | 'currency'>]> = [
        ['base', { unit_amount: v.base_fee_minor, recurring: { interval: 'month' }, nickname: `${v.plan_id} v${v.version} base fee` }],
        ...Object.entries(v.meters).map(([meter, price]): [string, Omit<Stripe.PriceCreateParams, 'lookup_key' | 'product' | 'currency'>] => [
          meter,
          { ...meteredParams(priceModel(price)), recurring: { interval: 'month', usage_type: 'metered', meter: meterIds[meter] }, nickname: `${v.plan_id} v${v.version} ${meter}` },
        ]),
      ];
      for (const [part, params] of parts) {
        const key = priceLookupKey(v.plan_id, v.version, part);
        let id = await this.lookup('price', key);
        if (!id) {
          const found = await this.stripe.call('list prices', (s) => s.prices.list({ lookup_keys: [key], limit: 1 }));
          id = found.data[0]?.id;
          if (!id) {
            const p = await this.stripe.call('create price', (s) =>
              s.prices.create({ ...params, currency: v.currency, product, lookup_key: key, metadata: { plan_id: v.plan_id, version: String(v.version), part } }, { idempotencyKey: `plinth:price:${key}` }),
            );
            id = p.id;
            created.push(`price ${key}`);
          }
          await this.store('price', key, id);
        }
        prices[key] = id;
      }
    }
    if (created.length) this.logger.log(`stripe:sync created ${created.join(', ')}`);
    return { meters: meterIds, prices, created };
  }

  /** Price ids of a version, syncing the catalog first when any is missing. */
  async pricesFor(v: PriceVersion): Promise<CatalogPrices> {
    const keys = ['base', ...Object.keys(v.meters)].map((part) => priceLookupKey(v.plan_id, v.version, part));
    if ((await Promise.all(keys.map((k) => this.lookup('price', k)))).some((id) => !id)) await this.sync();
    const base = await this.lookup('price', priceLookupKey(v.plan_id, v.version, 'base'));
    const meters: Record<string, string> = {};
    for (const meter of Object.keys(v.meters)) meters[meter] = (await this.lookup('price', priceLookupKey(v.plan_id, v.version, meter)))!;
    return { base: base!, meters };
  }

  async meterId(meter: string): Promise<string | undefined> {
    return this.lookup('meter', meter);
  }

  /** What a Stripe price id stands for: plan, version and part (`base` or a meter). */
  async describePrice(priceId: string): Promise<{ plan_id: string; version: number; part: string } | null> {
    await this.load();
    for (const [k, id] of this.cache!) {
      if (id !== priceId || !k.startsWith('price:')) continue;
      const m = /^price:plinth_(.+)_v(\d+)_(.+)$/.exec(k);
      if (m) return { plan_id: m[1], version: Number(m[2]), part: m[3] };
    }
    return null;
  }

  /** Versions of plans that are billed through a subscription (plans with hard caps are free and have none). */
  private async billableVersions(): Promise<PriceVersion[]> {
    const out: PriceVersion[] = [];
    for (const v of await this.priceBook.all()) if (!(await this.plans.get(v.plan_id)).hard_caps) out.push(v);
    return out;
  }

  private async ensureProduct(planId: string, created: string[]): Promise<string> {
    const id = productId(planId);
    if (await this.lookup('product', planId)) return id;
    try {
      await this.stripe.call('retrieve product', (s) => s.products.retrieve(id));
    } catch (e) {
      if (!isMissing(e)) throw e;
      const plan = await this.plans.get(planId);
      await this.stripe.call('create product', (s) => s.products.create({ id, name: `Plinth ${plan.name}`, metadata: { plan_id: planId } }, { idempotencyKey: `plinth:product:${planId}` }));
      created.push(`product ${planId}`);
    }
    await this.store('product', planId, id);
    return id;
  }

  private async load(): Promise<void> {
    if (this.cache) return;
    const rows = await this.catalog.all();
    this.cache = new Map(rows.map((r) => [`${r.kind}:${r.key}`, r.stripe_id]));
  }

  private async lookup(kind: Kind, key: string): Promise<string | undefined> {
    await this.load();
    let id = this.cache!.get(`${kind}:${key}`);
    if (!id) {
      // Another process (the sync command, another worker) may have stored it since this one loaded.
      id = await this.catalog.find(kind, key);
      if (id) this.cache!.set(`${kind}:${key}`, id);
    }
    return id;
  }

  private async store(kind: Kind, key: string, id: string): Promise<void> {
    await this.catalog.save(kind, key, id);
    this.cache?.set(`${kind}:${key}`, id);
  }
}

/** The billing scheme of a metered price in Stripe's parameters (decimal amounts as the SDK's Decimal). */
function meteredParams(model: PriceModel): Pick<Stripe.PriceCreateParams, 'billing_scheme' | 'unit_amount_decimal' | 'tiers' | 'tiers_mode'> {
  if (model.billingScheme === 'per_unit') return { billing_scheme: 'per_unit', unit_amount_decimal: Stripe.Decimal.from(model.unitAmount) };
  return {
    billing_scheme: 'tiered',
    tiers_mode: 'graduated',
    tiers: model.tiers.map((t) => ({
      up_to: t.upTo === null ? 'inf' : t.upTo,
      unit_amount_decimal: Stripe.Decimal.from(t.unitAmount),
      ...(t.flatAmount ? { flat_amount: t.flatAmount } : {}),
    })),
  };
}
