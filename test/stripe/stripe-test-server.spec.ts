import http from 'node:http';
import { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { parseForm } from './form-encoding';
import { StripeTestServer } from './stripe-test-server';

/** A tiny webhook receiver: keeps each raw body and its Stripe-Signature header, answers 200. */
class WebhookReceiver {
  received: { body: string; signature: string }[] = [];
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature'] ?? '') });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  ofType(type: string): { body: string; signature: string }[] {
    return this.received.filter((r) => (JSON.parse(r.body) as { type: string }).type === type);
  }
}

describe('StripeTestServer', () => {
  const server = new StripeTestServer();
  const receiver = new WebhookReceiver();
  const secret = 'whsec_test_secret_for_plinth';
  let stripe: Stripe;
  let webhookUrl: string;

  beforeAll(async () => {
    await server.start();
    webhookUrl = await receiver.start();
    stripe = new Stripe('sk_test_plinth', server.stripeConfig());
  });

  afterAll(async () => {
    await server.stop();
    await receiver.stop();
  });

  beforeEach(() => {
    server.reset();
    receiver.received = [];
    server.addWebhookEndpoint(webhookUrl, secret);
  });

  /** Customer + product + meter + base price + metered price + subscription: the shape Plinth uses. */
  async function setUpMeteredSubscription(meteredPrice?: Partial<Stripe.PriceCreateParams>) {
    const customer = await stripe.customers.create({ email: 'billing@acme.test', name: 'Acme', metadata: { org_id: 'org_1' } }, { idempotencyKey: 'org_1:customer' });
    const product = await stripe.products.create({ name: 'Plinth Pro' });
    const meter = await stripe.billing.meters.create({
      display_name: 'API requests',
      event_name: 'api_requests',
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
      value_settings: { event_payload_key: 'value' },
    });
    const base = await stripe.prices.create({ currency: 'usd', product: product.id, unit_amount: 2500, recurring: { interval: 'month' }, lookup_key: 'pro_base' });
    const metered = await stripe.prices.create({
      currency: 'usd',
      product: product.id,
      unit_amount_decimal: Stripe.Decimal.from('0.5'),
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      lookup_key: 'pro_api_requests',
      ...meteredPrice,
    });
    const subscription = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: base.id }, { price: metered.id }] });
    return { customer, product, meter, base, metered, subscription };
  }

  describe('end to end: usage to a paid invoice and a verified webhook', () => {
    it('bills base fee + metered usage once per identifier and sends a signed invoice.paid', async () => {
      const { customer, meter, metered, subscription } = await setUpMeteredSubscription();
      expect(customer.id).toMatch(/^cus_/);
      expect(meter.id).toMatch(/^mtr_/);
      expect(metered.recurring).toMatchObject({ usage_type: 'metered', meter: meter.id });
      // Decimal fields travel as strings and come back as the SDK's Decimal.
      expect(metered.unit_amount_decimal?.toString()).toBe('0.5');
      expect(subscription).toMatchObject({ object: 'subscription', status: 'active', customer: customer.id, livemode: false });
      expect(subscription.items.data.map((i) => i.id.slice(0, 3))).toEqual(['si_', 'si_']);

      const report = (identifier: string, value: number) =>
        stripe.billing.meterEvents.create({ event_name: 'api_requests', identifier, payload: { stripe_customer_id: customer.id, value: String(value) } });
      await report('org_1:api_requests:2030-01-01T10', 1200);
      await report('org_1:api_requests:2030-01-01T11', 800);
      // A re-sent hour (e.g. a worker retried after Stripe had accepted it): rejected, not counted twice.
      const duplicate = await report('org_1:api_requests:2030-01-01T11', 800).catch((e: unknown) => e);
      expect(duplicate).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect((duplicate as Stripe.errors.StripeError).message).toBe('An event already exists with identifier org_1:api_requests:2030-01-01T11.');
      expect(server.getMeterUsage(meter.id, customer.id)).toBe(2000);

      const draft = server.createInvoiceForSubscription(subscription.id);
      expect(draft.status).toBe('draft');
      const retrieved = await stripe.invoices.retrieve(draft.id);
      // 2000 requests x 0.5 cent = 1000 (usage, in arrears) + 2500 base fee (next period, in advance).
      expect(retrieved.total).toBe(3500);
      expect(retrieved.lines.data.map((l) => l.amount).sort((a, b) => a - b)).toEqual([1000, 2500]);
      const usageLine = retrieved.lines.data.find((l) => l.amount === 1000);
      expect(usageLine?.quantity).toBe(2000);
      expect(usageLine?.pricing?.price_details?.price).toBe(metered.id);
      expect(retrieved.parent?.subscription_details?.subscription).toBe(subscription.id);

      const finalized = await stripe.invoices.finalizeInvoice(draft.id);
      expect(finalized.status).toBe('open');
      expect(finalized.number).toMatch(/-0002$/); // the first invoice was the subscription's creation invoice
      const paid = await stripe.invoices.pay(draft.id);
      expect(paid).toMatchObject({ status: 'paid', amount_paid: 3500, amount_remaining: 0 });

      await server.waitForWebhooks();
      const deliveries = receiver.ofType('invoice.paid').filter((d) => (JSON.parse(d.body) as Stripe.Event).data.object && d.body.includes(draft.id));
      expect(deliveries).toHaveLength(1);
      const delivery = deliveries[0]!;
      const event = stripe.webhooks.constructEvent(delivery.body, delivery.signature, secret);
      expect(event.type).toBe('invoice.paid');
      expect((event.data.object as Stripe.Invoice).id).toBe(draft.id);
      expect(event.request?.id).toMatch(/^req_/);

      // The same event through the Events API.
      const fromApi = await stripe.events.retrieve(event.id);
      expect(fromApi.type).toBe('invoice.paid');
      const listed = await stripe.events.list({ type: 'invoice.paid' });
      expect(listed.data.map((e) => e.id)).toContain(event.id);
    });

    it('prices graduated tiers from aggregated usage', async () => {
      const meter = await stripe.billing.meters.create({ display_name: 'Storage', event_name: 'storage_gb', default_aggregation: { formula: 'sum' } });
      const { customer, subscription } = await setUpMeteredSubscription({
        billing_scheme: 'tiered',
        tiers_mode: 'graduated',
        tiers: [
          { up_to: 1000, unit_amount: 0 },
          { up_to: 5000, unit_amount_decimal: Stripe.Decimal.from('0.2') },
          { up_to: 'inf', unit_amount: 1, flat_amount: 100 },
        ],
        unit_amount_decimal: undefined,
        recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
        lookup_key: 'storage',
      });
      await stripe.billing.meterEvents.create({ event_name: 'storage_gb', payload: { stripe_customer_id: customer.id, value: '6000' } });
      const invoice = server.createInvoiceForSubscription(subscription.id);
      // 1000 free + 4000 x 0.2 = 800 + (1000 x 1 + 100 flat) = 1100 -> 1900, plus the 2500 base fee.
      expect(invoice.total).toBe(1900 + 2500);
      // `tiers` only appears when expanded, as in Stripe.
      const price = await stripe.prices.list({ lookup_keys: ['storage'], expand: ['data.tiers'] });
      expect(price.data[0]?.tiers).toHaveLength(3);
      const plain = await stripe.prices.retrieve(price.data[0]!.id);
      expect(plain.tiers).toBeUndefined();
    });

    it('reports meter usage through event summaries', async () => {
      const { customer, meter } = await setUpMeteredSubscription();
      const hour = Math.floor(server.now() / 3600) * 3600;
      await stripe.billing.meterEvents.create({ event_name: 'api_requests', timestamp: hour - 3600 + 5, payload: { stripe_customer_id: customer.id, value: '3' } });
      await stripe.billing.meterEvents.create({ event_name: 'api_requests', timestamp: hour + 1, payload: { stripe_customer_id: customer.id, value: '4' } });
      const total = await stripe.billing.meters.listEventSummaries(meter.id, { customer: customer.id, start_time: hour - 3600, end_time: hour + 3600 });
      expect(total.data).toHaveLength(1);
      expect(total.data[0]).toMatchObject({ object: 'billing.meter_event_summary', aggregated_value: 7, meter: meter.id });
      const hourly = await stripe.billing.meters.listEventSummaries(meter.id, {
        customer: customer.id,
        start_time: hour - 3600,
        end_time: hour + 3600,
        value_grouping_window: 'hour',
      });
      expect(hourly.data.map((s) => s.aggregated_value)).toEqual([3, 4]);
    });

    it('accepts but never counts events that fail processing (unknown meter, too old)', async () => {
      const { customer, meter } = await setUpMeteredSubscription();
      await stripe.billing.meterEvents.create({ event_name: 'no_such_meter', payload: { stripe_customer_id: customer.id, value: '5' } });
      await stripe.billing.meterEvents.create({
        event_name: 'api_requests',
        timestamp: server.now() - 36 * 86_400,
        payload: { stripe_customer_id: customer.id, value: '5' },
      });
      expect(server.meterEvents.map((e) => e.error?.code)).toEqual(['no_meter', 'timestamp_too_far_in_past']);
      expect(server.getMeterUsage(meter.id, customer.id)).toBe(0);
    });
  });

  describe('subscriptions', () => {
    it('upgrades with prorations, lists by customer, and cancels with webhooks', async () => {
      const { customer, product, base, subscription } = await setUpMeteredSubscription();
      const bigger = await stripe.prices.create({ currency: 'usd', product: product.id, unit_amount: 10000, recurring: { interval: 'month' } });
      const baseItem = subscription.items.data.find((i) => i.price.id === base.id)!;
      server.advanceClock(15 * 86_400);

      const updated = await stripe.subscriptions.update(subscription.id, {
        items: [{ id: baseItem.id, price: bigger.id }],
        proration_behavior: 'always_invoice',
      });
      expect(updated.items.data.map((i) => i.price.id)).toContain(bigger.id);
      const prorationInvoice = await stripe.invoices.retrieve(updated.latest_invoice as string);
      expect(prorationInvoice).toMatchObject({ billing_reason: 'subscription_update', status: 'paid' });
      const amounts = prorationInvoice.lines.data.map((l) => l.amount);
      expect(amounts.some((a) => a < 0)).toBe(true); // credit for unused time on the old price
      expect(prorationInvoice.total).toBeGreaterThan(0);
      expect(prorationInvoice.total).toBeLessThan(10000 - 2500);

      const listed = await stripe.subscriptions.list({ customer: customer.id });
      expect(listed.data.map((s) => s.id)).toEqual([subscription.id]);

      const canceled = await stripe.subscriptions.cancel(subscription.id);
      expect(canceled.status).toBe('canceled');
      expect((await stripe.subscriptions.list({ customer: customer.id })).data).toHaveLength(0);
      expect((await stripe.subscriptions.list({ customer: customer.id, status: 'canceled' })).data).toHaveLength(1);

      await server.waitForWebhooks();
      const updatedEvent = receiver.ofType('customer.subscription.updated').map((d) => stripe.webhooks.constructEvent(d.body, d.signature, secret));
      expect(updatedEvent.some((e) => e.data.previous_attributes && 'items' in e.data.previous_attributes)).toBe(true);
      expect(receiver.ofType('customer.subscription.deleted')).toHaveLength(1);
    });

    it('a declined renewal surfaces as a card error, invoice.payment_failed and past_due; paying restores it', async () => {
      const { customer, subscription } = await setUpMeteredSubscription();
      server.declinePaymentsFor(customer.id);
      const invoice = server.createInvoiceForSubscription(subscription.id);
      const failure = await stripe.invoices.pay(invoice.id).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect((failure as Stripe.errors.StripeCardError).code).toBe('card_declined');
      expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('past_due');
      expect((await stripe.invoices.retrieve(invoice.id)).attempt_count).toBe(1);

      server.declinePaymentsFor(customer.id, false);
      expect(server.attemptInvoicePayment(invoice.id)).toBe(true);
      expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active');
      await server.waitForWebhooks();
      expect(receiver.ofType('invoice.payment_failed')).toHaveLength(1);
      expect(receiver.ofType('invoice.finalized').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('checkout, portal, customers', () => {
    it('runs a setup-mode Checkout Session to completion and creates a portal session', async () => {
      const customer = await stripe.customers.create({ email: 'a@b.test' });
      const session = await stripe.checkout.sessions.create({ mode: 'setup', customer: customer.id, currency: 'usd', success_url: 'https://console.test/ok' });
      expect(session).toMatchObject({ object: 'checkout.session', mode: 'setup', status: 'open', customer: customer.id });
      expect(session.id).toMatch(/^cs_test_/);
      expect(session.url).toContain(session.id);

      server.completeCheckoutSession(session.id);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');
      expect(server.paymentMethodsOf(customer.id)).toHaveLength(1);
      await server.waitForWebhooks();
      expect(receiver.ofType('checkout.session.completed')).toHaveLength(1);

      const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'https://console.test/billing' });
      expect(portal.id).toMatch(/^bps_/);
      expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id, return_url: 'https://console.test/billing' });
    });

    it('updates, filters by email, deletes, and expands', async () => {
      const customer = await stripe.customers.create({ email: 'one@acme.test', metadata: { a: '1', b: '2' } });
      await stripe.customers.create({ email: 'two@acme.test' });
      const updated = await stripe.customers.update(customer.id, { name: 'One', metadata: { a: '' } });
      expect(updated).toMatchObject({ name: 'One', metadata: { b: '2' } });
      const found = await stripe.customers.list({ email: 'one@acme.test' });
      expect(found.data.map((c) => c.id)).toEqual([customer.id]);

      const product = await stripe.products.create({ name: 'P' });
      const price = await stripe.prices.create({ currency: 'usd', unit_amount: 100, product: product.id, recurring: { interval: 'month' } });
      const sub = await stripe.subscriptions.create({ customer: customer.id, items: [{ price: price.id }] });
      const expanded = await stripe.subscriptions.retrieve(sub.id, { expand: ['customer', 'latest_invoice', 'items.data.price.product'] });
      expect((expanded.customer as Stripe.Customer).email).toBe('one@acme.test');
      expect((expanded.latest_invoice as Stripe.Invoice).status).toBe('paid');
      expect((expanded.items.data[0]!.price.product as Stripe.Product).name).toBe('P');

      const deleted = await stripe.customers.del(customer.id);
      expect(deleted).toEqual({ id: customer.id, object: 'customer', deleted: true });
      expect(await stripe.customers.retrieve(customer.id)).toMatchObject({ deleted: true });
      expect((await stripe.subscriptions.retrieve(sub.id)).status).toBe('canceled');
    });
  });

  describe('webhooks', () => {
    async function paidInvoiceEvent(): Promise<Stripe.Event> {
      const { subscription } = await setUpMeteredSubscription();
      const invoice = server.createInvoiceForSubscription(subscription.id, { autoAdvance: true });
      await server.waitForWebhooks();
      const event = server.events.find((e) => e.type === 'invoice.paid' && (e.data.object as { id: string }).id === invoice.id);
      return event as unknown as Stripe.Event;
    }

    it('rejects tampered bodies, old timestamps and wrong secrets; duplicates keep the event id', async () => {
      const event = await paidInvoiceEvent();
      receiver.received = [];

      await server.resendEvent(event.id, { tamper: true });
      await server.resendEvent(event.id, { timestamp: Math.floor(Date.now() / 1000) - 600 });
      await server.resendEvent(event.id, { secret: 'whsec_wrong' });
      await server.resendEvent(event.id);
      const [tampered, old, wrongSecret, duplicate] = receiver.received;

      expect(() => stripe.webhooks.constructEvent(tampered!.body, tampered!.signature, secret)).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(() => stripe.webhooks.constructEvent(old!.body, old!.signature, secret)).toThrow(/tolerance/);
      expect(() => stripe.webhooks.constructEvent(wrongSecret!.body, wrongSecret!.signature, secret)).toThrow(Stripe.errors.StripeSignatureVerificationError);
      expect(stripe.webhooks.constructEvent(duplicate!.body, duplicate!.signature, secret).id).toBe(event.id);
    });

    it('holds events and delivers them in a chosen order', async () => {
      const customer = await stripe.customers.create({ email: 'order@acme.test' });
      server.holdWebhooks();
      await stripe.customers.update(customer.id, { name: 'First' });
      await stripe.customers.update(customer.id, { name: 'Second' });
      const [first, second] = server.heldEvents;
      expect(server.heldEvents).toHaveLength(2);
      receiver.received = [];

      await server.releaseWebhooks([second!.id, first!.id]);
      const names = receiver.received.map((r) => ((JSON.parse(r.body) as Stripe.Event).data.object as Stripe.Customer).name);
      expect(names).toEqual(['Second', 'First']);
    });

    it('emits custom events on demand', async () => {
      const event = server.emit('customer.subscription.updated', { id: 'sub_fake', object: 'subscription', status: 'unpaid' }, { status: 'past_due' });
      await server.waitForWebhooks();
      const delivered = receiver.received.map((r) => stripe.webhooks.constructEvent(r.body, r.signature, secret));
      expect(delivered.map((e) => e.id)).toContain(event.id);
      expect(server.webhookDeliveries.at(-1)).toMatchObject({ eventId: event.id, status: 200 });
      expect((await stripe.events.retrieve(event.id)).pending_webhooks).toBe(0);
    });
  });

  describe('idempotency', () => {
    it('replays the first response for the same key and parameters', async () => {
      const a = await stripe.customers.create({ email: 'idem@acme.test' }, { idempotencyKey: 'key-1' });
      const b = await stripe.customers.create({ email: 'idem@acme.test' }, { idempotencyKey: 'key-1' });
      expect(b.id).toBe(a.id);
      expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect((await stripe.customers.list()).data).toHaveLength(1);
    });

    it('answers idempotency_error when the parameters differ', async () => {
      await stripe.customers.create({ email: 'idem@acme.test' }, { idempotencyKey: 'key-2' });
      const error = await stripe.customers.create({ email: 'other@acme.test' }, { idempotencyKey: 'key-2' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect((error as Stripe.errors.StripeError).statusCode).toBe(400);
    });

    it('answers 409 to a second request with the key while the first is still executing', async () => {
      server.failNext({ path: '/v1/customers', delayMs: 200 });
      const post = () =>
        fetch(`${server.url}/v1/customers`, {
          method: 'POST',
          headers: { Authorization: 'Bearer sk_test_plinth', 'Content-Type': 'application/x-www-form-urlencoded', 'Idempotency-Key': 'slow-key' },
          body: 'email=slow%40acme.test',
        });
      const first = post();
      await new Promise((r) => setTimeout(r, 50));
      const second = await post();
      expect(second.status).toBe(409);
      expect(await second.json()).toMatchObject({ error: { type: 'idempotency_error' } });
      expect((await first).status).toBe(200);
      expect((await post()).headers.get('idempotent-replayed')).toBe('true');
    });
  });

  describe('fault injection', () => {
    it('a 500 is retried by the SDK with the same idempotency key and succeeds once', async () => {
      const retrying = new Stripe('sk_test_plinth', server.stripeConfig({ maxNetworkRetries: 2 }));
      server.failNext({ method: 'POST', path: '/v1/customers', status: 500 });
      const customer = await retrying.customers.create({ email: 'retry@acme.test' });
      expect(customer.id).toMatch(/^cus_/);
      const calls = server.requestsTo({ method: 'POST', path: '/v1/customers' });
      expect(calls.map((c) => c.status)).toEqual([500, 200]);
      expect(calls[0]!.idempotencyKey).toBeTruthy();
      expect(calls[1]!.idempotencyKey).toBe(calls[0]!.idempotencyKey);
      expect((await stripe.customers.list()).data).toHaveLength(1);
    });

    it('a 429 carries Retry-After and surfaces as StripeRateLimitError', async () => {
      server.failNext({ path: /^\/v1\/billing\/meter_events$/, status: 429, retryAfterSeconds: 7 });
      const error = await stripe.billing.meterEvents.create({ event_name: 'x', payload: { value: '1' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect((error as Stripe.errors.StripeError).headers?.['retry-after']).toBe('7');
      expect(server.requests.at(-1)).toMatchObject({ status: 429, faultInjected: true });
    });

    it('a response lost after Stripe accepted the meter event does not double count on retry', async () => {
      const { customer, meter } = await setUpMeteredSubscription();
      const retrying = new Stripe('sk_test_plinth', server.stripeConfig({ maxNetworkRetries: 1 }));
      server.failNext({ path: '/v1/billing/meter_events', status: 500, afterExecution: true });
      const accepted = await retrying.billing.meterEvents.create({ event_name: 'api_requests', identifier: 'org_1:api:h1', payload: { stripe_customer_id: customer.id, value: '10' } });
      expect(accepted.identifier).toBe('org_1:api:h1');
      expect(server.requestsTo({ path: '/v1/billing/meter_events' }).map((r) => [r.status, r.idempotentReplay])).toEqual([
        [500, false],
        [200, true],
      ]);

      // A worker restarted after the acceptance reports the same hour again with a fresh request: rejected.
      await expect(
        stripe.billing.meterEvents.create({ event_name: 'api_requests', identifier: 'org_1:api:h1', payload: { stripe_customer_id: customer.id, value: '10' } }),
      ).rejects.toThrow(/already exists/);
      expect(server.getMeterUsage(meter.id, customer.id)).toBe(10);
    });

    it('a slow response makes the SDK time out while the request still executes', async () => {
      const { customer, meter } = await setUpMeteredSubscription();
      const impatient = new Stripe('sk_test_plinth', server.stripeConfig({ timeout: 100 }));
      server.failNext({ path: '/v1/billing/meter_events', delayMs: 300 });
      await expect(
        impatient.billing.meterEvents.create({ event_name: 'api_requests', identifier: 'slow', payload: { stripe_customer_id: customer.id, value: '4' } }),
      ).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
      await new Promise((r) => setTimeout(r, 400));
      expect(server.getMeterUsage(meter.id, customer.id)).toBe(4);
    });
  });

  describe('errors and lists', () => {
    it('404 and 400 errors have Stripe shapes and SDK classes', async () => {
      const missing = (await stripe.customers.retrieve('cus_nope').catch((e: unknown) => e)) as Stripe.errors.StripeError;
      expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id', type: 'StripeInvalidRequestError' });
      expect(missing.message).toBe("No such customer: 'cus_nope'");

      const invalid = (await stripe.prices.create({ currency: 'usd', unit_amount: 100 }).catch((e: unknown) => e)) as Stripe.errors.StripeError;
      expect(invalid).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(invalid).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'product' });

      const unknown = (await stripe.customers.create({ emial: 'typo' } as Stripe.CustomerCreateParams).catch((e: unknown) => e)) as Stripe.errors.StripeError;
      expect(unknown).toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'emial' });
    });

    it('401 without a valid secret key', async () => {
      const bad = new Stripe('sk_live_nope', server.stripeConfig());
      await expect(bad.customers.list()).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      const res = await fetch(`${server.url}/v1/customers`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    });

    it('paginates newest first with has_more and starting_after, and auto-paginates', async () => {
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await stripe.customers.create({ email: `c${i}@acme.test` })).id);
      const page1 = await stripe.customers.list({ limit: 2 });
      expect(page1).toMatchObject({ object: 'list', has_more: true, url: '/v1/customers' });
      expect(page1.data.map((c) => c.id)).toEqual([created[4], created[3]]);
      const page2 = await stripe.customers.list({ limit: 2, starting_after: page1.data[1]!.id });
      expect(page2.data.map((c) => c.id)).toEqual([created[2], created[1]]);
      const all = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
      expect(all.map((c) => c.id)).toEqual([...created].reverse());
    });

    it('finds prices by lookup key', async () => {
      const { base, metered } = await setUpMeteredSubscription();
      const found = await stripe.prices.list({ lookup_keys: ['pro_base', 'pro_api_requests'] });
      expect(found.data.map((p) => p.id).sort()).toEqual([base.id, metered.id].sort());
      const conflict = await stripe.prices.create({ currency: 'usd', unit_amount: 1, product: base.product as string, lookup_key: 'pro_base' }).catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    });
  });

  describe('form decoding', () => {
    it('parses Stripe bracket notation into nested objects and arrays', () => {
      expect(parseForm('items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2&metadata[org]=o%201&expand[]=a&expand[]=b&email=x%40y.z')).toEqual({
        items: [{ price: 'price_1', quantity: '2' }, { price: 'price_2' }],
        metadata: { org: 'o 1' },
        expand: ['a', 'b'],
        email: 'x@y.z',
      });
      expect(parseForm('tiers[1][up_to]=inf&tiers[0][up_to]=10')).toEqual({ tiers: [{ up_to: '10' }, { up_to: 'inf' }] });
    });
  });
});
