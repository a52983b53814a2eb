import { addInterval, amountFor, PriceModel } from './billing-math';
import { newId } from './ids';
import { mergeMetadata, Params } from './params';
import { StripeApiError } from './stripe-api-error';
import {
  BillingPortalSessionObject,
  CheckoutSessionObject,
  CustomerObject,
  InvoiceLineItemObject,
  InvoiceObject,
  ListObject,
  MeterEventObject,
  MeterEventSummaryObject,
  MeterObject,
  PendingInvoiceItem,
  PriceObject,
  ProductObject,
  SubscriptionItemObject,
  SubscriptionObject,
  TierObject,
} from './stripe-objects';

/** What the backend needs from its host: the server clock and a way to record (and deliver) events. */
export interface BackendHooks {
  now(): number;
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>): void;
  baseUrl(): string;
}

/** A meter event as stored: the accepted API object plus what the (asynchronous, in Stripe) processing made of it. */
export interface StoredMeterEvent {
  event: MeterEventObject;
  meterId: string | null;
  customerId: string | null;
  value: number;
  /** Set when processing rejected the event; Stripe reports these via `v1.billing.meter.error_report_triggered`. */
  error: { code: string; message: string } | null;
}

export interface UsageQuery {
  /** Inclusive, unix seconds. */
  start?: number;
  /** Exclusive, unix seconds. */
  end?: number;
}

export interface CreateInvoiceForSubscriptionOptions {
  /** Finalize and attempt payment right away, as Stripe does about an hour after a renewal draft (default false). */
  autoAdvance?: boolean;
  /** Move the subscription into the next period, as a real renewal does (default true). */
  advancePeriod?: boolean;
}

const DAY = 86_400;
/** Stripe keeps meter event identifiers unique for "a rolling period of at least 24 hours". */
const IDENTIFIER_WINDOW = DAY;
/** Meter event timestamps must be "within the past 35 calendar days" and "up to 5 minutes in the future". */
const METER_PAST_WINDOW = 35 * DAY;
const METER_FUTURE_WINDOW = 5 * 60;

const clone = <T>(v: T): T => structuredClone(v);

export class StripeBackend {
  readonly customers = new Map<string, CustomerObject>();
  readonly deletedCustomers = new Set<string>();
  readonly products = new Map<string, ProductObject>();
  readonly prices = new Map<string, PriceObject & { tiers: TierObject[] }>();
  readonly meters = new Map<string, MeterObject>();
  readonly meterEvents: StoredMeterEvent[] = [];
  readonly subscriptions = new Map<string, SubscriptionObject>();
  readonly invoices = new Map<string, InvoiceObject>();
  readonly pendingItems: PendingInvoiceItem[] = [];
  readonly checkoutSessions = new Map<string, CheckoutSessionObject>();
  readonly portalSessions = new Map<string, BillingPortalSessionObject>();
  /** Payment methods attached to each customer (e.g. by completing a setup-mode Checkout Session). */
  readonly paymentMethods = new Map<string, string[]>();
  /** Customers whose payments are declined (test switch; see `declinePaymentsFor`). */
  readonly decliningCustomers = new Set<string>();
  private readonly identifiers = new Map<string, number>();
  private readonly invoiceSequence = new Map<string, number>();

  constructor(private readonly hooks: BackendHooks) {}

  private now(): number {
    return this.hooks.now();
  }

  // ---------------------------------------------------------------- lookups

  /** Any stored object by id, for `expand[]`. */
  findById(id: string): object | undefined {
    return (
      this.customers.get(id) ??
      this.products.get(id) ??
      this.prices.get(id) ??
      this.meters.get(id) ??
      this.subscriptions.get(id) ??
      this.invoices.get(id) ??
      this.checkoutSessions.get(id) ??
      this.portalSessions.get(id)
    );
  }

  customer(id: string, param = 'id'): CustomerObject {
    const c = this.customers.get(id);
    if (!c) throw StripeApiError.missing('customer', id, param);
    return c;
  }

  price(id: string, param = 'price'): PriceObject & { tiers: TierObject[] } {
    const p = this.prices.get(id);
    if (!p) throw StripeApiError.missing('price', id, param);
    return p;
  }

  product(id: string, param = 'id'): ProductObject {
    const p = this.products.get(id);
    if (!p) throw StripeApiError.missing('product', id, param);
    return p;
  }

  meter(id: string): MeterObject {
    const m = this.meters.get(id);
    if (!m) throw StripeApiError.missing('billing.meter', id);
    return m;
  }

  subscription(id: string, param = 'id'): SubscriptionObject {
    const s = this.subscriptions.get(id);
    if (!s) throw StripeApiError.missing('subscription', id, param);
    return s;
  }

  invoice(id: string): InvoiceObject {
    const i = this.invoices.get(id);
    if (!i) throw StripeApiError.missing('invoice', id);
    return i;
  }

  // ---------------------------------------------------------------- customers

  createCustomer(p: Params): CustomerObject {
    p.allowOnly(['email', 'name', 'description', 'phone', 'metadata', 'invoice_settings', 'invoice_prefix', 'preferred_locales', 'payment_method', 'expand']);
    const paymentMethod = p.string('payment_method') ?? null;
    const customer: CustomerObject = {
      id: newId('cus', 14),
      object: 'customer',
      address: null,
      balance: 0,
      created: this.now(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: p.nullableString('description') ?? null,
      email: p.nullableString('email') ?? null,
      invoice_prefix: p.string('invoice_prefix') ?? newId('x', 8).slice(2).toUpperCase(),
      invoice_settings: {
        custom_fields: null,
        default_payment_method: p.object('invoice_settings')?.allowOnly(['default_payment_method']).nullableString('default_payment_method') ?? null,
        footer: null,
        rendering_options: null,
      },
      livemode: false,
      metadata: mergeMetadata({}, p.metadata()),
      name: p.nullableString('name') ?? null,
      phone: p.nullableString('phone') ?? null,
      preferred_locales: p.strings('preferred_locales') ?? [],
      shipping: null,
      tax_exempt: 'none',
    };
    this.customers.set(customer.id, customer);
    if (paymentMethod) this.attachPaymentMethod(customer.id, paymentMethod);
    this.hooks.emit('customer.created', customer);
    return customer;
  }

  updateCustomer(id: string, p: Params): CustomerObject {
    p.allowOnly(['email', 'name', 'description', 'phone', 'metadata', 'invoice_settings', 'preferred_locales', 'expand']);
    const customer = this.customer(id);
    const before = clone(customer);
    const previous: Record<string, unknown> = {};
    const set = <K extends keyof CustomerObject>(key: K, value: CustomerObject[K] | undefined): void => {
      if (value === undefined || JSON.stringify(value) === JSON.stringify(customer[key])) return;
      previous[key] = before[key];
      customer[key] = value;
    };
    set('email', p.nullableString('email'));
    set('name', p.nullableString('name'));
    set('description', p.nullableString('description'));
    set('phone', p.nullableString('phone'));
    set('preferred_locales', p.strings('preferred_locales'));
    set('metadata', p.has('metadata') ? mergeMetadata(customer.metadata, p.metadata()) : undefined);
    const invoiceSettings = p.object('invoice_settings')?.allowOnly(['default_payment_method']);
    if (invoiceSettings?.has('default_payment_method')) {
      set('invoice_settings', { ...customer.invoice_settings, default_payment_method: invoiceSettings.nullableString('default_payment_method') ?? null });
    }
    if (Object.keys(previous).length > 0) this.hooks.emit('customer.updated', customer, previous);
    return customer;
  }

  /** Stripe cancels a deleted customer's subscriptions immediately. */
  deleteCustomer(id: string): { id: string; object: 'customer'; deleted: true } {
    const customer = this.customer(id);
    for (const sub of this.subscriptions.values()) {
      if (sub.customer === id && sub.status !== 'canceled' && sub.status !== 'incomplete_expired') this.cancelSubscriptionNow(sub, {});
    }
    this.customers.delete(id);
    this.deletedCustomers.add(id);
    this.hooks.emit('customer.deleted', customer);
    return { id, object: 'customer', deleted: true };
  }

  attachPaymentMethod(customerId: string, paymentMethodId: string = newId('pm', 24)): string {
    this.customer(customerId);
    const list = this.paymentMethods.get(customerId) ?? [];
    if (!list.includes(paymentMethodId)) list.push(paymentMethodId);
    this.paymentMethods.set(customerId, list);
    return paymentMethodId;
  }

  // ---------------------------------------------------------------- products & prices

  createProduct(p: Params): ProductObject {
    p.allowOnly(['id', 'name', 'active', 'description', 'metadata', 'unit_label', 'statement_descriptor', 'tax_code', 'url', 'images', 'expand']);
    const id = p.string('id') ?? newId('prod', 14);
    if (this.products.has(id)) throw StripeApiError.invalid(`Product already exists.`, 'id', 'resource_already_exists');
    const now = this.now();
    const product: ProductObject = {
      id,
      object: 'product',
      active: p.boolean('active') ?? true,
      created: now,
      default_price: null,
      description: p.nullableString('description') ?? null,
      images: p.strings('images') ?? [],
      livemode: false,
      marketing_features: [],
      metadata: mergeMetadata({}, p.metadata()),
      name: p.requiredString('name'),
      package_dimensions: null,
      shippable: null,
      statement_descriptor: p.nullableString('statement_descriptor') ?? null,
      tax_code: p.nullableString('tax_code') ?? null,
      tax_details: null,
      type: 'service',
      unit_label: p.nullableString('unit_label') ?? null,
      updated: now,
      url: p.nullableString('url') ?? null,
    };
    this.products.set(id, product);
    this.hooks.emit('product.created', product);
    return product;
  }

  createPrice(p: Params): PriceObject {
    p.allowOnly([
      'currency', 'product', 'product_data', 'unit_amount', 'unit_amount_decimal', 'recurring', 'billing_scheme', 'tiers', 'tiers_mode',
      'lookup_key', 'transfer_lookup_key', 'nickname', 'metadata', 'active', 'tax_behavior', 'transform_quantity', 'expand',
    ]);
    const currency = p.requiredString('currency').toLowerCase();
    let productId = p.string('product');
    const productData = p.object('product_data');
    if (!productId && !productData) throw StripeApiError.missingParam('product');
    if (productId) this.product(productId, 'product');
    else if (productData) {
      productData.allowOnly(['name', 'metadata', 'unit_label', 'statement_descriptor', 'tax_code', 'active']);
      productId = this.createProduct(productData).id;
    }

    const billingScheme = p.enumOf('billing_scheme', ['per_unit', 'tiered'] as const) ?? 'per_unit';
    const tiers = this.parseTiers(p, billingScheme);
    const tiersMode = p.enumOf('tiers_mode', ['graduated', 'volume'] as const) ?? null;
    if (billingScheme === 'tiered' && !tiersMode) throw StripeApiError.missingParam('tiers_mode');
    const unitAmountDecimal = p.decimal('unit_amount_decimal') ?? (p.integer('unit_amount') !== undefined ? String(p.integer('unit_amount')) : undefined);
    if (billingScheme === 'per_unit' && unitAmountDecimal === undefined) throw StripeApiError.missingParam('unit_amount');

    const recurringParams = p.object('recurring')?.allowOnly(['interval', 'interval_count', 'usage_type', 'meter', 'trial_period_days']);
    let recurring: PriceObject['recurring'] = null;
    if (recurringParams) {
      const usageType = recurringParams.enumOf('usage_type', ['licensed', 'metered'] as const) ?? 'licensed';
      const meterId = recurringParams.string('meter') ?? null;
      if (usageType === 'metered' && !meterId) {
        // Since the 2025-03-31 API versions, metered prices must be backed by a billing meter.
        throw StripeApiError.invalid('Metered prices must be associated with a meter: pass recurring[meter].', 'recurring[meter]');
      }
      if (meterId) {
        const meter = this.meters.get(meterId);
        if (!meter) throw StripeApiError.missing('billing.meter', meterId, 'recurring[meter]');
        if (meter.status !== 'active') throw StripeApiError.invalid(`You can't attach a deactivated meter to a price.`, 'recurring[meter]');
      }
      recurring = {
        interval: recurringParams.enumOf('interval', ['day', 'week', 'month', 'year'] as const) ?? fail(StripeApiError.missingParam('recurring[interval]')),
        interval_count: recurringParams.integer('interval_count') ?? 1,
        meter: meterId,
        trial_period_days: recurringParams.integer('trial_period_days') ?? null,
        usage_type: usageType,
      };
    }

    const lookupKey = p.nullableString('lookup_key') ?? null;
    if (lookupKey) {
      const holder = [...this.prices.values()].find((x) => x.lookup_key === lookupKey);
      if (holder) {
        if (p.boolean('transfer_lookup_key')) holder.lookup_key = null;
        else throw StripeApiError.invalid(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
      }
    }

    const transform = p.object('transform_quantity')?.allowOnly(['divide_by', 'round']);
    const price: PriceObject & { tiers: TierObject[] } = {
      id: newId('price', 24),
      object: 'price',
      active: p.boolean('active') ?? true,
      billing_scheme: billingScheme,
      created: this.now(),
      currency,
      custom_unit_amount: null,
      livemode: false,
      lookup_key: lookupKey,
      metadata: mergeMetadata({}, p.metadata()),
      nickname: p.nullableString('nickname') ?? null,
      product: productId ?? '',
      recurring,
      tax_behavior: p.enumOf('tax_behavior', ['exclusive', 'inclusive', 'unspecified'] as const) ?? 'unspecified',
      tiers_mode: tiersMode,
      transform_quantity: transform
        ? { divide_by: transform.integer('divide_by') ?? fail(StripeApiError.missingParam('transform_quantity[divide_by]')), round: transform.enumOf('round', ['up', 'down'] as const) ?? 'up' }
        : null,
      type: recurring ? 'recurring' : 'one_time',
      unit_amount: unitAmountDecimal !== undefined && Number.isInteger(Number(unitAmountDecimal)) ? Number(unitAmountDecimal) : null,
      unit_amount_decimal: unitAmountDecimal ?? null,
      tiers,
    };
    this.prices.set(price.id, price);
    this.hooks.emit('price.created', price);
    return price;
  }

  private parseTiers(p: Params, billingScheme: string): TierObject[] {
    const tierParams = p.objects('tiers');
    if (billingScheme !== 'tiered') {
      if (tierParams) throw StripeApiError.invalid('Tiers can only be set when billing_scheme=tiered.', 'tiers');
      return [];
    }
    if (!tierParams || tierParams.length === 0) throw StripeApiError.missingParam('tiers');
    const tiers = tierParams.map((t) => {
      t.allowOnly(['up_to', 'unit_amount', 'unit_amount_decimal', 'flat_amount', 'flat_amount_decimal']);
      const upTo = t.requiredString('up_to');
      const unit = t.decimal('unit_amount_decimal') ?? (t.integer('unit_amount') !== undefined ? String(t.integer('unit_amount')) : null);
      const flat = t.decimal('flat_amount_decimal') ?? (t.integer('flat_amount') !== undefined ? String(t.integer('flat_amount')) : null);
      const tier: TierObject = {
        up_to: upTo === 'inf' ? null : Number(upTo),
        unit_amount: unit !== null && Number.isInteger(Number(unit)) ? Number(unit) : null,
        unit_amount_decimal: unit,
        flat_amount: flat !== null && Number.isInteger(Number(flat)) ? Number(flat) : null,
        flat_amount_decimal: flat,
      };
      return tier;
    });
    if (tiers[tiers.length - 1]?.up_to !== null) throw StripeApiError.invalid('The last tier must have up_to=inf.', 'tiers');
    return tiers;
  }

  priceModel(price: PriceObject & { tiers: TierObject[] }): PriceModel {
    return {
      billingScheme: price.billing_scheme === 'tiered' ? 'tiered' : 'per_unit',
      unitAmount: Number(price.unit_amount_decimal ?? 0),
      tiersMode: price.tiers_mode === 'volume' ? 'volume' : price.tiers_mode === 'graduated' ? 'graduated' : null,
      tiers: price.tiers.map((t) => ({ upTo: t.up_to, unitAmount: Number(t.unit_amount_decimal ?? 0), flatAmount: Number(t.flat_amount_decimal ?? 0) })),
      transformQuantity: price.transform_quantity
        ? { divideBy: price.transform_quantity.divide_by, round: price.transform_quantity.round === 'down' ? 'down' : 'up' }
        : null,
    };
  }

  // ---------------------------------------------------------------- billing meters

  createMeter(p: Params): MeterObject {
    p.allowOnly(['display_name', 'event_name', 'default_aggregation', 'customer_mapping', 'value_settings', 'event_time_window', 'expand']);
    const eventName = p.requiredString('event_name');
    const formula = p.object('default_aggregation')?.allowOnly(['formula']).enumOf('formula', ['sum', 'count', 'last'] as const);
    if (!formula) throw StripeApiError.missingParam('default_aggregation[formula]');
    if ([...this.meters.values()].some((m) => m.event_name === eventName && m.status === 'active')) {
      // Stripe: "You can only use an event name with a single meter."
      throw StripeApiError.invalid(`An active meter with event_name \`${eventName}\` already exists.`, 'event_name');
    }
    const mapping = p.object('customer_mapping')?.allowOnly(['event_payload_key', 'type']);
    const valueSettings = p.object('value_settings')?.allowOnly(['event_payload_key']);
    const now = this.now();
    const meter: MeterObject = {
      id: newId('mtr', 24),
      object: 'billing.meter',
      created: now,
      customer_mapping: { event_payload_key: mapping?.requiredString('event_payload_key') ?? 'stripe_customer_id', type: 'by_id' },
      default_aggregation: { formula },
      display_name: p.requiredString('display_name'),
      event_name: eventName,
      event_time_window: p.enumOf('event_time_window', ['day', 'hour'] as const) ?? null,
      livemode: false,
      status: 'active',
      status_transitions: { deactivated_at: null },
      updated: now,
      value_settings: { event_payload_key: valueSettings?.requiredString('event_payload_key') ?? 'value' },
    };
    this.meters.set(meter.id, meter);
    this.hooks.emit('billing.meter.created', meter);
    return meter;
  }

  setMeterActive(id: string, active: boolean): MeterObject {
    const meter = this.meter(id);
    const previous = { status: meter.status, status_transitions: clone(meter.status_transitions) };
    meter.status = active ? 'active' : 'inactive';
    meter.status_transitions = { deactivated_at: active ? null : this.now() };
    meter.updated = this.now();
    this.hooks.emit(active ? 'billing.meter.reactivated' : 'billing.meter.deactivated', meter, previous);
    return meter;
  }

  /**
   * Stripe validates a meter event synchronously (shape, identifier uniqueness) and processes it asynchronously:
   * unknown event names, unknown customers, bad values and out-of-window timestamps are accepted with 200 and only
   * surface later in error reports. This server processes immediately but keeps that split: such events are
   * stored with an `error` and never counted.
   */
  createMeterEvent(p: Params): MeterEventObject {
    p.allowOnly(['event_name', 'payload', 'identifier', 'timestamp', 'expand']);
    const eventName = p.requiredString('event_name');
    const payloadParams = p.object('payload');
    if (!payloadParams) throw StripeApiError.missingParam('payload');
    const payload: Record<string, string> = {};
    for (const key of Object.keys(payloadParams.raw)) payload[key] = payloadParams.requiredString(key);
    const now = this.now();
    const timestamp = p.integer('timestamp') ?? now;
    const identifier = p.string('identifier') ?? newId('mevt', 16);

    const seenAt = this.identifiers.get(identifier);
    if (seenAt !== undefined && now - seenAt < IDENTIFIER_WINDOW) {
      // Observed Stripe behaviour for a reused identifier: 400 invalid_request_error, marked not retryable.
      throw new StripeApiError(
        400,
        { type: 'invalid_request_error', message: `An event already exists with identifier ${identifier}.`, param: 'identifier' },
        { 'Stripe-Should-Retry': 'false' },
      );
    }
    this.identifiers.set(identifier, now);

    const event: MeterEventObject = { object: 'billing.meter_event', created: now, event_name: eventName, identifier, livemode: false, payload, timestamp };
    const stored: StoredMeterEvent = { event, meterId: null, customerId: null, value: 0, error: null };
    const meter = [...this.meters.values()].find((m) => m.event_name === eventName);
    const reject = (code: string, message: string): MeterEventObject => {
      stored.error = { code, message };
      this.meterEvents.push(stored);
      return event;
    };
    if (!meter) return reject('no_meter', `No active meter found for event_name ${eventName}.`);
    stored.meterId = meter.id;
    if (meter.status !== 'active') return reject('archived_meter', `Meter ${meter.id} is inactive.`);
    const customerId = payload[meter.customer_mapping.event_payload_key];
    if (!customerId) return reject('meter_event_no_customer_defined', `Customer mapping key ${meter.customer_mapping.event_payload_key} not found in payload.`);
    if (!this.customers.has(customerId)) return reject('meter_event_customer_not_found', `Customer ${customerId} not found.`);
    stored.customerId = customerId;
    if (timestamp < now - METER_PAST_WINDOW) return reject('timestamp_too_far_in_past', 'Timestamp must be within the past 35 calendar days.');
    if (timestamp > now + METER_FUTURE_WINDOW) return reject('timestamp_in_future', 'Timestamp must not be more than 5 minutes in the future.');
    if (meter.default_aggregation.formula !== 'count') {
      const raw = payload[meter.value_settings.event_payload_key];
      if (raw === undefined || !/^-?\d+(\.\d+)?$/.test(raw)) return reject('meter_event_invalid_value', `Value ${raw ?? '(missing)'} is not a number.`);
      stored.value = Number(raw);
    } else {
      stored.value = 1;
    }
    this.meterEvents.push(stored);
    return event;
  }

  /** Aggregated usage of a meter for a customer over [start, end), by the meter's formula. */
  meterUsage(meterId: string, customerId: string, range: UsageQuery = {}): number {
    const meter = this.meter(meterId);
    const events = this.meterEvents
      .filter((e) => !e.error && e.meterId === meterId && e.customerId === customerId)
      .filter((e) => (range.start === undefined || e.event.timestamp >= range.start) && (range.end === undefined || e.event.timestamp < range.end));
    switch (meter.default_aggregation.formula) {
      case 'count':
        return events.length;
      case 'last': {
        const last = [...events].sort((a, b) => a.event.timestamp - b.event.timestamp).pop();
        return last?.value ?? 0;
      }
      default:
        return events.reduce((sum, e) => sum + e.value, 0);
    }
  }

  /** `GET /v1/billing/meters/:id/event_summaries`: one summary for the range, or one per hour/day window that has usage. */
  meterEventSummaries(meterId: string, p: Params): MeterEventSummaryObject[] {
    p.allowOnly(['customer', 'start_time', 'end_time', 'value_grouping_window', 'limit', 'starting_after', 'ending_before', 'expand']);
    this.meter(meterId);
    const customer = p.requiredString('customer');
    const start = p.integer('start_time') ?? fail(StripeApiError.missingParam('start_time'));
    const end = p.integer('end_time') ?? fail(StripeApiError.missingParam('end_time'));
    const window = p.enumOf('value_grouping_window', ['hour', 'day'] as const);
    const step = window === 'hour' ? 3600 : window === 'day' ? DAY : 60;
    // Stripe requires the bounds to be aligned to the grouping window (minutes when ungrouped).
    if (start % step !== 0) throw StripeApiError.invalid(`start_time must be aligned to ${window ?? 'minute'} boundaries.`, 'start_time');
    if (end % step !== 0) throw StripeApiError.invalid(`end_time must be aligned to ${window ?? 'minute'} boundaries.`, 'end_time');
    const summary = (s: number, e: number): MeterEventSummaryObject => ({
      id: newId('mtrusg', 24),
      object: 'billing.meter_event_summary',
      aggregated_value: this.meterUsage(meterId, customer, { start: s, end: e }),
      end_time: e,
      livemode: false,
      meter: meterId,
      start_time: s,
    });
    if (!window) return [summary(start, end)];
    const out: MeterEventSummaryObject[] = [];
    for (let s = start; s < end; s += step) {
      const hasEvents = this.meterEvents.some((ev) => !ev.error && ev.meterId === meterId && ev.customerId === customer && ev.event.timestamp >= s && ev.event.timestamp < s + step);
      if (hasEvents) out.push(summary(s, Math.min(s + step, end)));
    }
    return out;
  }

  // ---------------------------------------------------------------- subscriptions

  createSubscription(p: Params): SubscriptionObject {
    p.allowOnly([
      'customer', 'items', 'metadata', 'collection_method', 'days_until_due', 'default_payment_method', 'payment_behavior',
      'proration_behavior', 'description', 'cancel_at_period_end', 'currency', 'expand',
    ]);
    const customerId = p.requiredString('customer');
    this.customer(customerId, 'customer');
    const itemParams = p.objects('items');
    if (!itemParams || itemParams.length === 0) throw StripeApiError.missingParam('items');
    const paymentBehavior = p.enumOf('payment_behavior', ['allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete'] as const) ?? 'allow_incomplete';
    const collectionMethod = p.enumOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
    if (collectionMethod === 'send_invoice' && p.integer('days_until_due') === undefined) throw StripeApiError.missingParam('days_until_due');

    const now = this.now();
    const id = newId('sub', 24);
    const items = itemParams.map((ip) => this.newSubscriptionItem(id, ip, now));
    this.checkItemsCompatible(items);
    const firstPrice = items[0]?.price;
    if (!firstPrice?.recurring) throw StripeApiError.invalid('A recurring price is required.', 'items');
    const periodEnd = addInterval(now, intervalOf(firstPrice), firstPrice.recurring.interval_count);
    for (const item of items) {
      item.current_period_start = now;
      item.current_period_end = periodEnd;
    }

    if (paymentBehavior === 'error_if_incomplete' && collectionMethod === 'charge_automatically' && this.decliningCustomers.has(customerId)) {
      throw cardDeclined();
    }

    const sub: SubscriptionObject = {
      id,
      object: 'subscription',
      billing_cycle_anchor: now,
      cancel_at: null,
      cancel_at_period_end: p.boolean('cancel_at_period_end') ?? false,
      canceled_at: null,
      cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
      collection_method: collectionMethod,
      created: now,
      currency: firstPrice.currency,
      customer: customerId,
      days_until_due: p.integer('days_until_due') ?? null,
      default_payment_method: p.nullableString('default_payment_method') ?? null,
      description: p.nullableString('description') ?? null,
      ended_at: null,
      items: { object: 'list', data: items, has_more: false, url: `/v1/subscription_items?subscription=${id}` },
      latest_invoice: null,
      livemode: false,
      metadata: mergeMetadata({}, p.metadata()),
      pause_collection: null,
      pending_update: null,
      start_date: now,
      status: 'incomplete',
      trial_end: null,
      trial_start: null,
    };
    this.subscriptions.set(id, sub);

    // The first invoice bills licensed items in advance; metered items appear with quantity 0 (usage is billed in arrears).
    const lines = items.map((item) => {
      const metered = item.price.recurring?.usage_type === 'metered';
      const quantity = metered ? 0 : (item.quantity ?? 1);
      return this.subscriptionLine(sub, item, quantity, { start: now, end: periodEnd });
    });
    const invoice = this.newInvoice(customerId, lines, {
      subscription: sub,
      billingReason: 'subscription_create',
      period: { start: now, end: now },
      collectionMethod,
      daysUntilDue: sub.days_until_due,
    });
    sub.latest_invoice = invoice.id;
    this.hooks.emit('invoice.created', invoice);
    this.finalize(invoice);

    if (invoice.status === 'paid' || collectionMethod === 'send_invoice') {
      sub.status = 'active';
    } else if (paymentBehavior !== 'default_incomplete') {
      this.attemptPayment(invoice);
      if (invoice.status === 'paid') sub.status = 'active';
    }
    this.hooks.emit('customer.subscription.created', sub);
    return sub;
  }

  private newSubscriptionItem(subscriptionId: string, ip: Params, now: number): SubscriptionItemObject {
    ip.allowOnly(['price', 'quantity', 'metadata']);
    const price = this.price(ip.requiredString('price'), ip.name('price'));
    if (!price.recurring) {
      throw StripeApiError.invalid('The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.', ip.name('price'));
    }
    if (!price.active) throw StripeApiError.invalid(`The price specified is inactive.`, ip.name('price'));
    const metered = price.recurring.usage_type === 'metered';
    const quantity = ip.integer('quantity');
    if (metered && quantity !== undefined) {
      throw StripeApiError.invalid('Quantity should not be specified where usage_type is `metered`. Remove quantity.', ip.name('quantity'));
    }
    return {
      id: newId('si', 14),
      object: 'subscription_item',
      billing_thresholds: null,
      created: now,
      current_period_end: now,
      current_period_start: now,
      discounts: [],
      metadata: mergeMetadata({}, ip.metadata()),
      price: clone(price),
      ...(metered ? {} : { quantity: quantity ?? 1 }),
      subscription: subscriptionId,
      tax_rates: [],
    };
  }

  private checkItemsCompatible(items: SubscriptionItemObject[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.price.id)) throw StripeApiError.invalid('Cannot add multiple subscription items with the same price.', 'items');
      seen.add(item.price.id);
    }
    const first = items[0]?.price;
    for (const item of items) {
      if (item.price.currency !== first?.currency) throw StripeApiError.invalid('All prices on a subscription must have the same currency.', 'items');
      if (item.price.recurring?.interval !== first?.recurring?.interval || item.price.recurring?.interval_count !== first?.recurring?.interval_count) {
        throw StripeApiError.invalid('All prices on a subscription must have the same recurring interval.', 'items');
      }
    }
  }

  /**
   * `POST /v1/subscriptions/:id`. Items with `id` are updated (or removed with `deleted=true`), items without are
   * added. Licensed quantity/price changes are prorated by the unused share of the current period unless
   * `proration_behavior=none`; `always_invoice` bills the prorations at once, `create_prorations` (the default)
   * leaves them pending for the next invoice. Metered items are not prorated (usage is billed in arrears).
   */
  updateSubscription(id: string, p: Params): SubscriptionObject {
    p.allowOnly(['items', 'metadata', 'proration_behavior', 'cancel_at_period_end', 'default_payment_method', 'description', 'payment_behavior', 'collection_method', 'days_until_due', 'expand']);
    const sub = this.subscription(id);
    if (sub.status === 'canceled') {
      throw StripeApiError.invalid('A canceled subscription can only update its cancellation_details and metadata.', undefined);
    }
    const before = clone(sub);
    const previous: Record<string, unknown> = {};
    const now = this.now();
    const prorationBehavior = p.enumOf('proration_behavior', ['create_prorations', 'none', 'always_invoice'] as const) ?? 'create_prorations';

    const itemParams = p.objects('items');
    const prorations: PendingInvoiceItem[] = [];
    if (itemParams) {
      const items = [...sub.items.data];
      const periodStart = items[0]?.current_period_start ?? now;
      const periodEnd = items[0]?.current_period_end ?? now;
      const unusedShare = periodEnd > periodStart ? Math.max(0, (periodEnd - now) / (periodEnd - periodStart)) : 0;
      const prorate = (item: SubscriptionItemObject, sign: 1 | -1, quantity: number): void => {
        if (item.price.recurring?.usage_type === 'metered' || prorationBehavior === 'none' || unusedShare === 0) return;
        const amount = sign * Math.round(amountFor(this.priceModel(this.price(item.price.id)), quantity) * unusedShare);
        if (amount === 0) return;
        const when = new Date(now * 1000).toISOString().slice(0, 10);
        prorations.push({
          id: newId('ii', 24),
          customer: sub.customer,
          subscription: sub.id,
          subscriptionItem: item.id,
          price: clone(item.price),
          amount,
          quantity,
          description: `${sign < 0 ? 'Unused' : 'Remaining'} time on ${quantity} × ${this.products.get(item.price.product)?.name ?? item.price.product} after ${when}`,
          period: { start: now, end: periodEnd },
          proration: true,
        });
      };

      for (const ip of itemParams) {
        ip.allowOnly(['id', 'price', 'quantity', 'deleted', 'metadata', 'clear_usage']);
        const itemId = ip.string('id');
        if (!itemId) {
          const added = this.newSubscriptionItem(sub.id, ip, now);
          added.current_period_start = periodStart;
          added.current_period_end = periodEnd;
          items.push(added);
          prorate(added, 1, added.quantity ?? 1);
          continue;
        }
        const index = items.findIndex((i) => i.id === itemId);
        const existing = items[index];
        if (!existing) throw StripeApiError.missing('subscription_item', itemId, ip.name('id'));
        if (ip.boolean('deleted')) {
          prorate(existing, -1, existing.quantity ?? 1);
          items.splice(index, 1);
          continue;
        }
        const newPriceId = ip.string('price');
        const newQuantity = ip.integer('quantity');
        const updated: SubscriptionItemObject = { ...existing, metadata: mergeMetadata(existing.metadata, ip.metadata()) };
        if (newPriceId && newPriceId !== existing.price.id) {
          const price = this.price(newPriceId, ip.name('price'));
          if (!price.recurring) throw StripeApiError.invalid('The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.', ip.name('price'));
          updated.price = clone(price);
          if (price.recurring.usage_type === 'metered') delete updated.quantity;
          else updated.quantity = newQuantity ?? existing.quantity ?? 1;
        } else if (newQuantity !== undefined) {
          if (existing.price.recurring?.usage_type === 'metered') {
            throw StripeApiError.invalid('Quantity should not be specified where usage_type is `metered`. Remove quantity.', ip.name('quantity'));
          }
          updated.quantity = newQuantity;
        }
        if (updated.price.id !== existing.price.id || updated.quantity !== existing.quantity) {
          prorate(existing, -1, existing.quantity ?? 1);
          prorate(updated, 1, updated.quantity ?? 1);
        }
        items[index] = updated;
      }
      if (items.length === 0) throw StripeApiError.invalid('A subscription must have at least one active plan.', 'items');
      this.checkItemsCompatible(items);
      if (JSON.stringify(items) !== JSON.stringify(sub.items.data)) {
        previous.items = before.items;
        sub.items = { ...sub.items, data: items };
      }
    }

    const cancelAtPeriodEnd = p.boolean('cancel_at_period_end');
    if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
      previous.cancel_at_period_end = sub.cancel_at_period_end;
      previous.cancel_at = sub.cancel_at;
      sub.cancel_at_period_end = cancelAtPeriodEnd;
      sub.cancel_at = cancelAtPeriodEnd ? (sub.items.data[0]?.current_period_end ?? null) : null;
    }
    if (p.has('metadata')) {
      const merged = mergeMetadata(sub.metadata, p.metadata());
      if (JSON.stringify(merged) !== JSON.stringify(sub.metadata)) {
        previous.metadata = before.metadata;
        sub.metadata = merged;
      }
    }
    const defaultPm = p.nullableString('default_payment_method');
    if (defaultPm !== undefined && defaultPm !== sub.default_payment_method) {
      previous.default_payment_method = sub.default_payment_method;
      sub.default_payment_method = defaultPm;
    }
    const description = p.nullableString('description');
    if (description !== undefined && description !== sub.description) {
      previous.description = sub.description;
      sub.description = description;
    }

    if (prorations.length > 0) {
      if (prorationBehavior === 'always_invoice') {
        const invoice = this.newInvoice(sub.customer, prorations.map((pi) => this.pendingLine(pi)), {
          subscription: sub,
          billingReason: 'subscription_update',
          period: { start: now, end: now },
          collectionMethod: sub.collection_method,
          daysUntilDue: sub.days_until_due,
        });
        previous.latest_invoice = sub.latest_invoice;
        sub.latest_invoice = invoice.id;
        this.hooks.emit('invoice.created', invoice);
        this.finalize(invoice);
        if (invoice.status === 'open' && sub.collection_method === 'charge_automatically') this.attemptPayment(invoice);
      } else {
        this.pendingItems.push(...prorations);
      }
    }
    if (Object.keys(previous).length > 0) this.hooks.emit('customer.subscription.updated', sub, previous);
    return sub;
  }

  /** `DELETE /v1/subscriptions/:id`: cancels now; `invoice_now=true` bills usage so far (and pending prorations). */
  cancelSubscription(id: string, p: Params): SubscriptionObject {
    p.allowOnly(['invoice_now', 'prorate', 'cancellation_details', 'expand']);
    const sub = this.subscription(id);
    if (sub.status === 'canceled') {
      throw StripeApiError.invalid(`This subscription has already been canceled.`, undefined);
    }
    const details = p.object('cancellation_details')?.allowOnly(['comment', 'feedback']);
    this.cancelSubscriptionNow(sub, { invoiceNow: p.boolean('invoice_now') ?? false, comment: details?.nullableString('comment') ?? null });
    return sub;
  }

  private cancelSubscriptionNow(sub: SubscriptionObject, opts: { invoiceNow?: boolean; comment?: string | null; at?: number }): void {
    const now = opts.at ?? this.now();
    if (opts.invoiceNow) {
      const periodStart = sub.items.data[0]?.current_period_start ?? now;
      const lines = this.usageLines(sub, { start: periodStart, end: now + 1 });
      lines.push(...this.takePending(sub).map((pi) => this.pendingLine(pi)));
      if (lines.length > 0) {
        const invoice = this.newInvoice(sub.customer, lines, {
          subscription: sub,
          billingReason: 'subscription_cycle',
          period: { start: periodStart, end: now },
          collectionMethod: sub.collection_method,
          daysUntilDue: sub.days_until_due,
        });
        sub.latest_invoice = invoice.id;
        this.hooks.emit('invoice.created', invoice);
        this.finalize(invoice);
        if (invoice.status === 'open' && sub.collection_method === 'charge_automatically') this.attemptPayment(invoice);
      }
    }
    sub.status = 'canceled';
    sub.canceled_at = this.now();
    sub.ended_at = now;
    sub.cancellation_details = { comment: opts.comment ?? null, feedback: null, feedback_option: null, reason: 'cancellation_requested' };
    this.hooks.emit('customer.subscription.deleted', sub);
  }

  /**
   * Test helper standing in for Stripe's renewal at the end of the current period: one draft invoice with
   * - each metered item's usage over [period start, period end) priced by its (possibly tiered) price,
   * - pending invoice items (prorations) of the subscription,
   * - each licensed item for the next period, in advance (unless the subscription cancels at period end),
   * then (by default) moves the subscription into the next period, or cancels it if `cancel_at_period_end`.
   */
  createInvoiceForSubscription(subscriptionId: string, opts: CreateInvoiceForSubscriptionOptions = {}): InvoiceObject {
    const sub = this.subscription(subscriptionId);
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired') {
      throw StripeApiError.invalid(`Subscription ${sub.id} is ${sub.status}.`, 'subscription');
    }
    const first = sub.items.data[0];
    if (!first?.price.recurring) throw StripeApiError.invalid('Subscription has no recurring items.', 'subscription');
    const period = { start: first.current_period_start, end: first.current_period_end };
    const nextEnd = addInterval(period.end, intervalOf(first.price), first.price.recurring.interval_count);

    const lines = this.usageLines(sub, period);
    lines.push(...this.takePending(sub).map((pi) => this.pendingLine(pi)));
    if (!sub.cancel_at_period_end) {
      for (const item of sub.items.data) {
        if (item.price.recurring?.usage_type !== 'metered') lines.push(this.subscriptionLine(sub, item, item.quantity ?? 1, { start: period.end, end: nextEnd }));
      }
    }
    const invoice = this.newInvoice(sub.customer, lines, {
      subscription: sub,
      billingReason: 'subscription_cycle',
      period,
      collectionMethod: sub.collection_method,
      daysUntilDue: sub.days_until_due,
    });
    const previous: Record<string, unknown> = { latest_invoice: sub.latest_invoice };
    sub.latest_invoice = invoice.id;
    this.hooks.emit('invoice.created', invoice);

    if (opts.advancePeriod ?? true) {
      if (sub.cancel_at_period_end) {
        this.cancelSubscriptionNow(sub, { at: period.end });
      } else {
        previous.items = clone(sub.items);
        for (const item of sub.items.data) {
          item.current_period_start = period.end;
          item.current_period_end = nextEnd;
        }
        this.hooks.emit('customer.subscription.updated', sub, previous);
      }
    }
    if (opts.autoAdvance) {
      this.finalize(invoice);
      if (invoice.status === 'open' && invoice.collection_method === 'charge_automatically') this.attemptPayment(invoice);
    }
    return invoice;
  }

  private usageLines(sub: SubscriptionObject, period: { start: number; end: number }): InvoiceLineItemObject[] {
    const lines: InvoiceLineItemObject[] = [];
    for (const item of sub.items.data) {
      const meterId = item.price.recurring?.usage_type === 'metered' ? item.price.recurring.meter : null;
      if (!meterId) continue;
      // Stripe bills a negative period total as 0.
      const usage = Math.max(0, this.meterUsage(meterId, sub.customer, period));
      lines.push(this.subscriptionLine(sub, item, usage, period));
    }
    return lines;
  }

  private takePending(sub: SubscriptionObject): PendingInvoiceItem[] {
    const taken = this.pendingItems.filter((pi) => pi.subscription === sub.id);
    for (const pi of taken) this.pendingItems.splice(this.pendingItems.indexOf(pi), 1);
    return taken;
  }

  /** Pending invoice items of a customer (e.g. prorations waiting for the next invoice). */
  pendingInvoiceItems(customerId?: string): PendingInvoiceItem[] {
    return this.pendingItems.filter((pi) => !customerId || pi.customer === customerId);
  }

  // ---------------------------------------------------------------- invoices

  private subscriptionLine(sub: SubscriptionObject, item: SubscriptionItemObject, quantity: number, period: { start: number; end: number }): InvoiceLineItemObject {
    const price = this.price(item.price.id);
    const amount = amountFor(this.priceModel(price), quantity);
    const productName = this.products.get(price.product)?.name ?? price.product;
    const description = price.billing_scheme === 'tiered' ? `${productName} (tiered)` : `${quantity} × ${productName} (at ${formatMinor(price.unit_amount_decimal, price.currency)} / ${price.recurring?.interval ?? 'unit'})`;
    return {
      id: newId('il', 24),
      object: 'line_item',
      amount,
      currency: price.currency,
      description,
      discount_amounts: [],
      discountable: true,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: {},
      parent: {
        type: 'subscription_item_details',
        subscription_item_details: { invoice_item: null, proration: false, proration_details: null, subscription: sub.id, subscription_item: item.id },
        invoice_item_details: null,
      },
      period,
      pretax_credit_amounts: [],
      pricing: { type: 'price_details', price_details: { price: price.id, product: price.product }, unit_amount_decimal: price.unit_amount_decimal },
      quantity: Number.isInteger(quantity) ? quantity : null,
      quantity_decimal: String(quantity),
      subscription: sub.id,
      subtotal: amount,
      taxes: [],
    };
  }

  private pendingLine(pi: PendingInvoiceItem): InvoiceLineItemObject {
    return {
      id: newId('il', 24),
      object: 'line_item',
      amount: pi.amount,
      currency: pi.price.currency,
      description: pi.description,
      discount_amounts: [],
      discountable: false,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: {},
      parent: {
        type: 'invoice_item_details',
        subscription_item_details: null,
        invoice_item_details: { invoice_item: pi.id, proration: pi.proration, proration_details: null, subscription: pi.subscription },
      },
      period: pi.period,
      pretax_credit_amounts: [],
      pricing: { type: 'price_details', price_details: { price: pi.price.id, product: pi.price.product }, unit_amount_decimal: pi.price.unit_amount_decimal },
      quantity: pi.quantity,
      quantity_decimal: String(pi.quantity),
      subscription: pi.subscription,
      subtotal: pi.amount,
      taxes: [],
    };
  }

  private newInvoice(
    customerId: string,
    lines: InvoiceLineItemObject[],
    opts: {
      subscription?: SubscriptionObject;
      billingReason: NonNullable<InvoiceObject['billing_reason']>;
      period: { start: number; end: number };
      collectionMethod: InvoiceObject['collection_method'];
      daysUntilDue: number | null;
      currency?: string;
      description?: string | null;
      metadata?: Record<string, string>;
      autoAdvance?: boolean;
    },
  ): InvoiceObject {
    const customer = this.customer(customerId, 'customer');
    const id = newId('in', 24);
    for (const line of lines) line.invoice = id;
    const total = lines.reduce((s, l) => s + l.amount, 0);
    const now = this.now();
    const invoice: InvoiceObject = {
      id,
      object: 'invoice',
      account_country: 'US',
      account_name: 'Stripe test server',
      amount_due: Math.max(0, total),
      amount_overpaid: 0,
      amount_paid: 0,
      amount_remaining: Math.max(0, total),
      amount_shipping: 0,
      attempt_count: 0,
      attempted: false,
      auto_advance: opts.autoAdvance ?? opts.billingReason !== 'manual',
      automatically_finalizes_at: null,
      billing_reason: opts.billingReason,
      collection_method: opts.collectionMethod,
      created: now,
      currency: lines[0]?.currency ?? opts.currency ?? opts.subscription?.currency ?? customer.currency ?? 'usd',
      customer: customerId,
      customer_email: customer.email,
      customer_name: customer.name ?? null,
      default_payment_method: null,
      description: opts.description ?? null,
      due_date: opts.collectionMethod === 'send_invoice' && opts.daysUntilDue !== null ? now + opts.daysUntilDue * DAY : null,
      effective_at: null,
      ending_balance: null,
      hosted_invoice_url: null,
      invoice_pdf: null,
      lines: { object: 'list', data: lines, has_more: false, url: `/v1/invoices/${id}/lines` },
      livemode: false,
      metadata: opts.metadata ?? {},
      next_payment_attempt: null,
      number: null,
      parent: opts.subscription
        ? { type: 'subscription_details', quote_details: null, subscription_details: { metadata: clone(opts.subscription.metadata), subscription: opts.subscription.id } }
        : null,
      period_end: opts.period.end,
      period_start: opts.period.start,
      post_payment_credit_notes_amount: 0,
      pre_payment_credit_notes_amount: 0,
      starting_balance: 0,
      status: 'draft',
      status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
      subtotal: total,
      subtotal_excluding_tax: total,
      total,
      total_discount_amounts: [],
      total_excluding_tax: total,
      total_taxes: [],
      webhooks_delivered_at: null,
    };
    this.invoices.set(id, invoice);
    return invoice;
  }

  createInvoice(p: Params): InvoiceObject {
    p.allowOnly(['customer', 'subscription', 'auto_advance', 'collection_method', 'days_until_due', 'description', 'metadata', 'pending_invoice_items_behavior', 'currency', 'expand']);
    const customerId = p.requiredString('customer');
    this.customer(customerId, 'customer');
    const subscriptionId = p.string('subscription');
    const sub = subscriptionId ? this.subscription(subscriptionId, 'subscription') : undefined;
    const collectionMethod = p.enumOf('collection_method', ['charge_automatically', 'send_invoice'] as const) ?? 'charge_automatically';
    if (collectionMethod === 'send_invoice' && p.integer('days_until_due') === undefined) throw StripeApiError.missingParam('days_until_due');
    // Since 2022-08-01 the default is `exclude`: pending invoice items stay pending unless asked for.
    const behavior = p.enumOf('pending_invoice_items_behavior', ['include', 'exclude'] as const) ?? 'exclude';
    let lines: InvoiceLineItemObject[] = [];
    if (behavior === 'include') {
      const taken = this.pendingItems.filter((pi) => pi.customer === customerId && (!sub || pi.subscription === sub.id));
      for (const pi of taken) this.pendingItems.splice(this.pendingItems.indexOf(pi), 1);
      lines = taken.map((pi) => this.pendingLine(pi));
    }
    const now = this.now();
    const invoice = this.newInvoice(customerId, lines, {
      ...(sub ? { subscription: sub } : {}),
      billingReason: 'manual',
      period: { start: now, end: now },
      collectionMethod,
      daysUntilDue: p.integer('days_until_due') ?? null,
      currency: p.string('currency'),
      description: p.nullableString('description') ?? null,
      metadata: mergeMetadata({}, p.metadata()),
      autoAdvance: p.boolean('auto_advance') ?? false,
    });
    this.hooks.emit('invoice.created', invoice);
    return invoice;
  }

  finalizeInvoice(id: string, p: Params): InvoiceObject {
    p.allowOnly(['auto_advance', 'expand']);
    const invoice = this.invoice(id);
    if (invoice.status !== 'draft') {
      throw StripeApiError.invalid(`This invoice is already finalized, you can't re-finalize a non-draft invoice.`, undefined, 'invoice_not_editable');
    }
    const autoAdvance = p.boolean('auto_advance');
    if (autoAdvance !== undefined) invoice.auto_advance = autoAdvance;
    this.finalize(invoice);
    return invoice;
  }

  private finalize(invoice: InvoiceObject): void {
    const now = this.now();
    const seq = (this.invoiceSequence.get(invoice.customer) ?? 0) + 1;
    this.invoiceSequence.set(invoice.customer, seq);
    const prefix = this.customers.get(invoice.customer)?.invoice_prefix ?? 'TEST';
    invoice.status = 'open';
    invoice.number = `${prefix}-${String(seq).padStart(4, '0')}`;
    invoice.status_transitions.finalized_at = now;
    invoice.effective_at = now;
    invoice.hosted_invoice_url = `${this.hooks.baseUrl()}/i/${invoice.id}`;
    invoice.invoice_pdf = `${this.hooks.baseUrl()}/i/${invoice.id}/pdf`;
    invoice.ending_balance = 0;
    this.hooks.emit('invoice.finalized', invoice);
    // Stripe marks invoices with nothing to collect as paid on finalization.
    if (invoice.amount_due === 0) this.markPaid(invoice);
  }

  /** `POST /v1/invoices/:id/pay`: drafts are finalized first; a declined payment answers 402 card_declined. */
  payInvoice(id: string, p: Params): InvoiceObject {
    p.allowOnly(['paid_out_of_band', 'payment_method', 'off_session', 'forgive', 'expand']);
    const invoice = this.invoice(id);
    if (invoice.status === 'paid') throw StripeApiError.invalid('Invoice is already paid.', undefined, 'invoice_already_paid');
    if (invoice.status === 'void' || invoice.status === 'uncollectible') throw StripeApiError.invalid(`You cannot pay a ${invoice.status} invoice.`, undefined);
    if (invoice.status === 'draft') this.finalize(invoice);
    if (invoice.status === 'paid') return invoice;
    if (p.boolean('paid_out_of_band')) {
      this.markPaid(invoice);
      return invoice;
    }
    if (!this.attemptPayment(invoice)) throw cardDeclined();
    return invoice;
  }

  /**
   * One payment attempt, as Stripe's automatic collection (and its Smart Retries) would make. Success marks the
   * invoice paid; a decline (see `decliningCustomers`) records the attempt and emits `invoice.payment_failed`,
   * moving an active subscription to `past_due`.
   */
  attemptPayment(invoice: InvoiceObject): boolean {
    if (invoice.status !== 'open') return invoice.status === 'paid';
    if (this.decliningCustomers.has(invoice.customer)) {
      const previous = { attempt_count: invoice.attempt_count, attempted: invoice.attempted, next_payment_attempt: invoice.next_payment_attempt };
      invoice.attempt_count += 1;
      invoice.attempted = true;
      invoice.next_payment_attempt = invoice.collection_method === 'charge_automatically' ? this.now() + 3 * DAY : null;
      this.hooks.emit('invoice.payment_failed', invoice, previous);
      const sub = this.subscriptionOf(invoice);
      if (sub && sub.status === 'active' && invoice.billing_reason !== 'subscription_create') this.setSubscriptionStatus(sub, 'past_due');
      return false;
    }
    this.markPaid(invoice);
    return true;
  }

  private markPaid(invoice: InvoiceObject): void {
    const previous = { status: invoice.status, amount_paid: invoice.amount_paid, amount_remaining: invoice.amount_remaining };
    invoice.status = 'paid';
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.attempted = true;
    invoice.attempt_count += invoice.amount_due > 0 ? 1 : 0;
    invoice.next_payment_attempt = null;
    invoice.status_transitions.paid_at = this.now();
    this.hooks.emit('invoice.paid', invoice, previous);
    this.hooks.emit('invoice.payment_succeeded', invoice, previous);
    const sub = this.subscriptionOf(invoice);
    if (sub && (sub.status === 'past_due' || sub.status === 'incomplete' || sub.status === 'unpaid')) this.setSubscriptionStatus(sub, 'active');
  }

  voidInvoice(id: string): InvoiceObject {
    const invoice = this.invoice(id);
    if (invoice.status !== 'open' && invoice.status !== 'uncollectible') throw StripeApiError.invalid(`You can only void open or uncollectible invoices.`, undefined);
    invoice.status = 'void';
    invoice.status_transitions.voided_at = this.now();
    invoice.amount_remaining = 0;
    this.hooks.emit('invoice.voided', invoice);
    return invoice;
  }

  private subscriptionOf(invoice: InvoiceObject): SubscriptionObject | undefined {
    const subId = invoice.parent?.subscription_details.subscription;
    return subId ? this.subscriptions.get(subId) : undefined;
  }

  setSubscriptionStatus(sub: SubscriptionObject, status: SubscriptionObject['status']): void {
    if (sub.status === status) return;
    const previous = { status: sub.status };
    sub.status = status;
    this.hooks.emit('customer.subscription.updated', sub, previous);
  }

  // ---------------------------------------------------------------- checkout & portal

  createCheckoutSession(p: Params): CheckoutSessionObject {
    p.allowOnly([
      'mode', 'customer', 'customer_email', 'success_url', 'cancel_url', 'return_url', 'ui_mode', 'currency', 'payment_method_types',
      'line_items', 'metadata', 'client_reference_id', 'setup_intent_data', 'subscription_data', 'expand',
    ]);
    const mode = p.enumOf('mode', ['payment', 'setup', 'subscription'] as const) ?? fail(StripeApiError.missingParam('mode'));
    const uiMode = p.enumOf('ui_mode', ['hosted', 'embedded', 'custom'] as const) ?? 'hosted';
    const customerId = p.string('customer') ?? null;
    if (customerId) this.customer(customerId, 'customer');
    if (uiMode === 'hosted' && !p.string('success_url')) throw StripeApiError.missingParam('success_url');
    const lineItems = p.objects('line_items');
    if (mode !== 'setup' && (!lineItems || lineItems.length === 0)) throw StripeApiError.missingParam('line_items');
    for (const li of lineItems ?? []) {
      li.allowOnly(['price', 'quantity']);
      this.price(li.requiredString('price'), li.name('price'));
    }
    const id = newId('cs_test', 58);
    const now = this.now();
    const session: CheckoutSessionObject = {
      id,
      object: 'checkout.session',
      amount_subtotal: null,
      amount_total: null,
      cancel_url: p.string('cancel_url') ?? null,
      client_reference_id: p.string('client_reference_id') ?? null,
      created: now,
      currency: p.string('currency')?.toLowerCase() ?? null,
      customer: customerId,
      customer_email: p.string('customer_email') ?? null,
      expires_at: now + DAY,
      invoice: null,
      livemode: false,
      metadata: mergeMetadata({}, p.metadata()),
      mode,
      payment_method_types: p.strings('payment_method_types') ?? ['card'],
      payment_status: mode === 'setup' ? 'no_payment_required' : 'unpaid',
      setup_intent: null,
      status: 'open',
      subscription: null,
      success_url: p.string('success_url') ?? null,
      ui_mode: uiMode,
      url: uiMode === 'hosted' ? `${this.hooks.baseUrl()}/c/pay/${id}` : null,
      ...(p.string('return_url') ? { return_url: p.string('return_url') } : {}),
    };
    this.checkoutSessions.set(id, session);
    this.checkoutLineItems.set(id, (lineItems ?? []).map((li) => ({ price: li.requiredString('price'), quantity: li.integer('quantity') })));
    return session;
  }

  private readonly checkoutLineItems = new Map<string, { price: string; quantity: number | undefined }[]>();

  /**
   * Test helper for what happens when the customer finishes the hosted page: setup mode attaches a new payment
   * method (via a SetupIntent) to the customer; subscription mode also starts the subscription.
   * Emits `checkout.session.completed`.
   */
  completeCheckoutSession(id: string, opts: { paymentMethodId?: string } = {}): CheckoutSessionObject {
    const session = this.checkoutSessions.get(id);
    if (!session) throw StripeApiError.missing('checkout.session', id);
    if (session.status !== 'open') throw StripeApiError.invalid(`Checkout Session ${id} is ${session.status}.`, undefined);
    if (!session.customer) {
      const customer = this.createCustomer(new Params(session.customer_email ? { email: session.customer_email } : {}));
      session.customer = customer.id;
    }
    const pm = this.attachPaymentMethod(session.customer, opts.paymentMethodId);
    if (session.mode === 'setup') {
      session.setup_intent = newId('seti', 24);
    } else if (session.mode === 'subscription') {
      const items = (this.checkoutLineItems.get(id) ?? []).map((li) => ({ price: li.price, ...(li.quantity !== undefined ? { quantity: String(li.quantity) } : {}) }));
      const sub = this.createSubscription(new Params({ customer: session.customer, items, default_payment_method: pm }));
      session.subscription = sub.id;
      session.invoice = sub.latest_invoice;
      session.payment_status = 'paid';
    } else {
      session.payment_status = 'paid';
    }
    session.status = 'complete';
    this.hooks.emit('checkout.session.completed', session);
    return session;
  }

  createPortalSession(p: Params): BillingPortalSessionObject {
    p.allowOnly(['customer', 'return_url', 'configuration', 'locale', 'flow_data', 'on_behalf_of', 'expand']);
    const customer = p.requiredString('customer');
    this.customer(customer, 'customer');
    const id = newId('bps', 24);
    const session: BillingPortalSessionObject = {
      id,
      object: 'billing_portal.session',
      configuration: p.string('configuration') ?? 'bpc_default_test_server',
      created: this.now(),
      customer,
      customer_account: null,
      flow: null,
      livemode: false,
      locale: null,
      on_behalf_of: null,
      return_url: p.string('return_url') ?? null,
      url: `${this.hooks.baseUrl()}/p/session/${id}`,
    };
    this.portalSessions.set(id, session);
    return session;
  }
}

// ---------------------------------------------------------------- small helpers

function fail(error: StripeApiError): never {
  throw error;
}

function cardDeclined(): StripeApiError {
  return new StripeApiError(402, { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' });
}

function intervalOf(price: PriceObject): 'day' | 'week' | 'month' | 'year' {
  switch (price.recurring?.interval) {
    case 'day':
      return 'day';
    case 'week':
      return 'week';
    case 'year':
      return 'year';
    default:
      return 'month';
  }
}

function formatMinor(decimal: string | null, currency: string): string {
  const value = Number(decimal ?? 0) / 100;
  return `${value.toFixed(2)} ${currency.toUpperCase()}`;
}

export function listOf<T>(data: T[], url: string): ListObject<T> {
  return { object: 'list', data, has_more: false, url };
}
