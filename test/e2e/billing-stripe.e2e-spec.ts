import Stripe from 'stripe';
import { DelinquencyNoticesJob, PeriodCloserService, StripeCatalogService, UsageReporterService } from '@plinth/billing';
import { UsageRepository } from '@plinth/metering';
import { randomUUID } from 'node:crypto';
import { StripeTestServer } from '../stripe/stripe-test-server';
import { account, billingJobsIdle, bootBillingApp, DAY, backInTime, fastJobs, flush, plantUsage, setClocks, stripeEnv, travel, waitFor, WEBHOOK_SECRET } from '../support/billing-harness';
import { addMember, createProject, signup, TestApp, TestUser } from '../support/test-app';

/**
 * Billing against the local Stripe-protocol server: the real `stripe` SDK inside the real api, webhooks signed
 * and delivered to the api's endpoint, the in-process job runner, and clocks moved by hand.
 */
describe('billing with Stripe', () => {
  const server = new StripeTestServer();
  let t: TestApp;
  /** The test's own Stripe client (the customer's side: paying an invoice). */
  let sdk: Stripe;

  const reporter = () => t.app.get(UsageReporterService);
  const eventsFor = (identifierPrefix: string) => server.meterEvents.filter((e) => e.event.identifier.startsWith(identifierPrefix));

  beforeAll(async () => {
    await server.start();
    t = await bootBillingApp(stripeEnv(server));
    server.addWebhookEndpoint(`${t.baseUrl}/v1/billing/stripe/webhook`, WEBHOOK_SECRET);
    sdk = new Stripe('sk_test_plinth_e2e', server.stripeConfig());
  });
  afterAll(async () => {
    await t?.close();
    await server.stop();
  });
  afterEach(() => server.clearFaults());

  /** A new org on Pro with a Stripe customer and subscription, and one project. */
  async function paidOrg(tag: string): Promise<{ u: TestUser; ref: string; projectId: string; publishable: string; customer: string; subscription: string }> {
    const u = await signup(t, tag);
    const p = await createProject(t, u, `${tag}-project`);
    const res = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ change: 'upgrade', plan: { id: 'pro' }, mode: 'stripe' });
    const a = await waitFor('the subscription', async () => {
      const row = await account(t, u.orgId);
      return row?.stripe_subscription_id ? row : undefined;
    });
    await billingJobsIdle(t);
    return { u, ref: p.ref, projectId: p.id, publishable: p.publishable, customer: a.stripe_customer_id!, subscription: a.stripe_subscription_id! };
  }

  it('stripe:sync creates one meter per meter and the prices of every paid plan version, and is idempotent', async () => {
    const first = await t.app.get(StripeCatalogService).sync();
    expect(Object.keys(first.meters).sort()).toEqual(['egress_bytes', 'function_gb_seconds', 'function_invocations', 'notifications', 'requests']);
    expect(first.prices).toHaveProperty('plinth_pro_v1_base');
    expect(first.prices).toHaveProperty('plinth_enterprise_v1_requests');
    expect(first.prices).not.toHaveProperty('plinth_free_v1_base');
    const meters = server.requestsTo({ method: 'POST', path: '/v1/billing/meters' }).length;
    const prices = server.requestsTo({ method: 'POST', path: '/v1/prices' }).length;
    const again = await t.app.get(StripeCatalogService).sync();
    expect(again.created).toEqual([]);
    expect(again.prices).toEqual(first.prices);
    expect(server.requestsTo({ method: 'POST', path: '/v1/billing/meters' })).toHaveLength(meters);
    expect(server.requestsTo({ method: 'POST', path: '/v1/prices' })).toHaveLength(prices);
    // Included amounts become a free first tier of a graduated price bound to the meter.
    const price = await t.app.get(StripeCatalogService).pricesFor((await t.sql.query(`SELECT * FROM control.price_book WHERE plan_id = 'pro' AND version = 1`)).rows[0]);
    const stripePrice = server.requests.find((r) => r.method === 'POST' && r.path === '/v1/prices' && r.response && (r.response as { id: string }).id === price.meters.requests);
    expect(stripePrice?.body).toMatchObject({ billing_scheme: 'tiered', tiers_mode: 'graduated', tiers: [{ up_to: '5000000', unit_amount_decimal: '0' }, { up_to: 'inf', unit_amount_decimal: '0.0002' }] });
  });

  it('end to end: signup → project → traffic → hourly meter events → invoice → invoice.paid → state updated', async () => {
    // The org starts two hours ago, so the hour of its traffic is complete (and can be rolled up) now.
    await backInTime([t], server);
    const { u, ref, publishable, customer, subscription } = await paidOrg('e2e');
    // The customer and subscription were created with idempotency keys, once.
    const creates = server.requestsTo({ method: 'POST', path: '/v1/customers' }).filter((r) => r.body.metadata && (r.body.metadata as Record<string, string>).org_id === u.orgId);
    expect(creates).toHaveLength(1);
    expect(creates[0].idempotencyKey).toBe(`plinth:${u.orgId}:customer`);
    expect(server.requestsTo({ method: 'POST', path: '/v1/subscriptions' }).find((r) => r.body.customer === customer)?.idempotencyKey).toMatch(new RegExp(`^plinth:${u.orgId}:subscription:`));

    // Real tenant traffic through the gateway.
    for (let i = 0; i < 7; i++) expect((await t.http().get(`/p/${ref}/rest/v1/`).set('apikey', publishable)).status).toBe(200);
    await flush(t);
    setClocks([t], server, new Date());
    const out = await reporter().report(u.orgId);
    expect(out.pending).toBe(0);

    const events = eventsFor(`${u.orgId}:`);
    const requests = events.find((e) => e.event.identifier.startsWith(`${u.orgId}:requests:`));
    expect(requests?.event).toMatchObject({ event_name: 'plinth_requests', payload: { stripe_customer_id: customer, value: '7' } });
    expect(requests?.event.identifier).toMatch(new RegExp(`^${u.orgId}:requests:\\d{4}-\\d\\d-\\d\\dT\\d\\d$`));
    expect(requests!.event.identifier.endsWith(new Date(requests!.event.timestamp * 1000).toISOString().slice(0, 13))).toBe(true);
    const egress = events.find((e) => e.event.identifier.startsWith(`${u.orgId}:egress_bytes:`));
    expect(Number(egress?.event.payload.value)).toBeGreaterThan(0);
    // Reporting again sends nothing new.
    const before = server.requestsTo({ path: '/v1/billing/meter_events' }).length;
    await reporter().report(u.orgId);
    expect(server.requestsTo({ path: '/v1/billing/meter_events' })).toHaveLength(before);

    // The renewal invoice bills the period's usage (7 requests, inside Pro's included amount) and the next base fee.
    const invoice = server.createInvoiceForSubscription(subscription, { autoAdvance: true });
    expect(invoice.status).toBe('paid');
    const usageLine = invoice.lines.data.find((l) => l.quantity === 7);
    expect(usageLine?.amount).toBe(0);
    expect(invoice.total).toBe(2500);

    const mirrored = await waitFor('the paid invoice in Plinth', async () => {
      const res = await t.http().get(`/v1/orgs/${u.orgId}/invoices`).set(u.auth);
      return (res.body as Array<{ id: string; status: string }>).find((i) => i.id === invoice.id && i.status === 'paid');
    });
    expect(mirrored).toMatchObject({ source: 'stripe', total_minor: 2500, amount_paid_minor: 2500, currency: 'usd' });
    const lines = (mirrored as unknown as { lines: Array<{ kind: string; meter?: string; quantity: number; projects?: Array<{ ref: string; quantity: number }> }> }).lines;
    expect(lines.find((l) => l.meter === 'requests')).toMatchObject({ kind: 'usage', quantity: 7, projects: [{ ref, quantity: 7 }] });
    expect(lines.find((l) => l.kind === 'base')).toMatchObject({ quantity: 1 });

    // The subscription moved to its next period, and Plinth's view followed.
    const billing = await waitFor('the next period', async () => {
      const res = await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth);
      return new Date(res.body.period.start).getTime() > Date.now() + 20 * 86_400_000 ? res.body : undefined;
    });
    expect(billing).toMatchObject({ mode: 'stripe', plan: { id: 'pro' }, subscription: { status: 'active' }, delinquency: { state: 'ok' }, reporting: { pending: 0 } });
  });

  it('overview: usage to date per meter, included, overage, cost so far and projected; billing rights enforced', async () => {
    const { u, projectId } = await paidOrg('overview');
    await plantUsage(t, projectId, { 'requests:rest': 5_200_000 });
    const res = await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.meters.requests).toMatchObject({ used: 5_200_000, included: 5_000_000, overage: 200_000, cost_minor: 40 });
    expect(res.body.base_fee_minor).toBe(2500);
    expect(res.body.cost_to_date_minor).toBe(2540);
    expect(res.body.projected_minor).toBeGreaterThanOrEqual(2540);
    expect(res.body.cost_to_date_minor).toBe(2540);

    const admin = await signup(t, 'admin');
    const billingMember = await signup(t, 'billing');
    const outsider = await signup(t, 'outsider');
    await addMember(t, u, admin, 'admin');
    await addMember(t, u, billingMember, 'billing');
    expect((await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(admin.auth)).status).toBe(200);
    expect((await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(admin.auth).send({ plan: 'enterprise' })).status).toBe(403);
    expect((await t.http().get(`/v1/orgs/${u.orgId}/invoices`).set(billingMember.auth)).status).toBe(200);
    expect((await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(outsider.auth)).status).toBe(404);
    expect((await t.http().get(`/v1/orgs/${u.orgId}/invoices`).set(outsider.auth)).status).toBe(404);
    expect((await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'nope' })).status).toBe(400);
    expect((await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro', extra: 1 })).status).toBe(400);

    // Checkout (setup mode) and the portal, with the configured return URLs.
    const checkout = await t.http().post(`/v1/orgs/${u.orgId}/billing/checkout-session`).set(billingMember.auth).send({});
    expect(checkout.status).toBe(201);
    expect(checkout.body.url).toContain('/c/pay/cs_test');
    const session = server.requestsTo({ method: 'POST', path: '/v1/checkout/sessions' }).pop()!;
    expect(session.body).toMatchObject({ mode: 'setup', customer: (await account(t, u.orgId)).stripe_customer_id });
    server.completeCheckoutSession(checkout.body.id);
    await waitFor('the payment method', async () => (await account(t, u.orgId)).payment_method_at);
    const portal = await t.http().post(`/v1/orgs/${u.orgId}/billing/portal-session`).set(u.auth).send({});
    expect(portal.status).toBe(201);
    expect(portal.body.url).toContain('/p/session/bps_');
    expect((await t.http().post(`/v1/orgs/${u.orgId}/billing/portal-session`).set(admin.auth).send({})).status).toBe(403);
  });

  /** A paid org that started two hours ago, with usage in its first (now complete) hour. */
  async function orgWithHourOfUsage(tag: string, usage: Record<string, number>) {
    await backInTime([t], server);
    const org = await paidOrg(tag);
    await plantUsage(t, org.projectId, usage);
    setClocks([t], server, new Date());
    return org;
  }

  const meterEventsPath = '/v1/billing/meter_events';

  /** Every identifier of the org reaches Stripe exactly once, and Stripe's usage equals the ledger's. */
  async function expectDeliveredOnce(orgId: string, customer: string, expected: Record<string, number>) {
    const events = eventsFor(`${orgId}:`).filter((e) => !e.error);
    const identifiers = events.map((e) => e.event.identifier);
    expect(new Set(identifiers).size).toBe(identifiers.length);
    for (const [meter, quantity] of Object.entries(expected)) {
      const meterId = (await t.app.get(StripeCatalogService).meterId(meter))!;
      expect(server.getMeterUsage(meterId, customer)).toBe(quantity);
    }
    const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM control.meter_reports WHERE org_id = $1 AND status = 'pending'`, [orgId]);
    expect(rows[0].n).toBe(0);
  }

  describe('faults while reporting', () => {
    it('Stripe answering 500 leaves the hour pending (not reported); 429s are retried after Retry-After; each hour lands once', async () => {
      const { u, customer } = await orgWithHourOfUsage('f500', { 'requests:rest': 1000, function_invocations: 10 });
      server.failNext({ path: meterEventsPath, status: 500, times: 1000 });
      const failed = await reporter().report(u.orgId);
      expect(failed).toMatchObject({ queued: 2, accepted: 0, pending: 2 });
      expect(eventsFor(`${u.orgId}:`)).toHaveLength(0);
      const { rows } = await t.sql.query(`SELECT status, attempts, last_error FROM control.meter_reports WHERE org_id = $1`, [u.orgId]);
      expect(rows.every((r) => r.status === 'pending' && r.attempts >= 1 && /unknown error/i.test(r.last_error))).toBe(true);

      server.clearFaults();
      server.failNext({ path: meterEventsPath, status: 429, times: 2, retryAfterSeconds: 1 });
      const retried = await reporter().report(u.orgId);
      expect(retried).toMatchObject({ queued: 0, accepted: 2, pending: 0 });
      expect(server.requestsTo({ path: meterEventsPath }).filter((r) => r.status === 429)).toHaveLength(2);
      await expectDeliveredOnce(u.orgId, customer, { requests: 1000, function_invocations: 10 });
    });

    it('a request that times out on the client but completes at Stripe is reported once', async () => {
      const { u, customer } = await orgWithHourOfUsage('ftimeout', { 'requests:rest': 321 });
      // Longer than STRIPE_TIMEOUT_MS (1500), so the client gives up; the server still executes it, at 1800 ms. The
      // SDK's first retry comes 500 ms after the timeout (its minimum backoff), after that, and gets the stored
      // answer. (At 2500 ms the retries could both land while the first was in flight, get 409s, and leave it
      // pending: a flake.)
      server.failNext({ path: meterEventsPath, delayMs: 1800 });
      const out = await reporter().report(u.orgId);
      expect(out.pending).toBe(0);
      expect(server.requestsTo({ path: meterEventsPath }).filter((r) => r.body.identifier && String(r.body.identifier).startsWith(u.orgId)).length).toBeGreaterThan(1);
      await expectDeliveredOnce(u.orgId, customer, { requests: 321 });
    });

    it('Stripe accepting an event whose answer is lost: the retry is deduplicated', async () => {
      const { u, customer } = await orgWithHourOfUsage('flost', { 'requests:rest': 42 });
      // Every attempt of this run executes at Stripe and then loses its connection (the SDK retries twice).
      server.failNext({ path: meterEventsPath, status: 500, afterExecution: true, destroySocket: true, times: 3 });
      const lost = await reporter().report(u.orgId);
      expect(lost).toMatchObject({ accepted: 0, pending: 1 });
      const meterId = (await t.app.get(StripeCatalogService).meterId('requests'))!;
      expect(server.getMeterUsage(meterId, customer)).toBe(42); // Stripe has it; Plinth doesn't know yet
      const next = await reporter().report(u.orgId);
      expect(next).toMatchObject({ accepted: 1, pending: 0 });
      await expectDeliveredOnce(u.orgId, customer, { requests: 42 });
    });

    it('a worker killed between Stripe accepting and the local write: the identifier dedupes the resend', async () => {
      const { u, customer } = await orgWithHourOfUsage('fkilled', { 'requests:rest': 77 });
      expect((await reporter().report(u.orgId)).pending).toBe(0);
      // As if the process died right after Stripe's 200: the row never got marked.
      await t.sql.query(`UPDATE control.meter_reports SET status = 'pending', accepted_at = NULL WHERE org_id = $1`, [u.orgId]);
      const again = await reporter().report(u.orgId);
      expect(again).toMatchObject({ accepted: 1, pending: 0 });
      const last = server.requestsTo({ path: meterEventsPath }).pop()!;
      expect(last.status).toBe(400);
      expect(JSON.stringify(last.response)).toContain('An event already exists with identifier');
      await expectDeliveredOnce(u.orgId, customer, { requests: 77 });
    });
  });

  it('reconciliation finds a planted gap (late usage, a report Stripe never got) and sends the difference once', async () => {
    const { u, projectId, customer } = await orgWithHourOfUsage('recon', { 'requests:rest': 500 });
    expect((await reporter().report(u.orgId)).pending).toBe(0);
    const hour = (await t.sql.query(`SELECT hour FROM control.meter_reports WHERE org_id = $1`, [u.orgId])).rows[0].hour as Date;
    // A flush that landed after the hour was reported, and a report recorded as accepted that never reached Stripe.
    const minute = hour.getTime() + 30 * 60_000;
    await t.app.get(UsageRepository).applyBatch(randomUUID(), [
      { projectId, meter: 'requests:rest', minute, quantity: 250 },
      { projectId, meter: 'function_invocations', minute, quantity: 40 },
    ]);
    await t.sql.query(
      `INSERT INTO control.meter_reports (org_id, meter, hour, seq, identifier, quantity, status, created_at, accepted_at)
       VALUES ($1, 'function_invocations', $2, 0, $3, 40, 'accepted', now(), now())`,
      [u.orgId, hour, `${u.orgId}:function_invocations:${hour.toISOString().slice(0, 13)}`],
    );

    const fixed = await reporter().reconcile(u.orgId);
    expect(fixed.corrections).toBe(2);
    const corrections = eventsFor(`${u.orgId}:`).filter((e) => /:c1$/.test(e.event.identifier));
    expect(corrections.map((e) => [e.event.event_name, e.event.payload.value]).sort()).toEqual([
      ['plinth_function_invocations', '40'],
      ['plinth_requests', '250'],
    ]);
    await expectDeliveredOnce(u.orgId, customer, { requests: 750, function_invocations: 40 });
    expect((await reporter().reconcile(u.orgId)).corrections).toBe(0);
  });

  describe('webhooks', () => {
    const post = (body: string, signature?: string) => {
      const req = t.http().post('/v1/billing/stripe/webhook').set('content-type', 'application/json');
      return (signature ? req.set('stripe-signature', signature) : req).send(body);
    };

    it('are verified on the raw body: tampered, too old, wrong secret or unsigned → 400, and change nothing', async () => {
      const { subscription } = await paidOrg('whsig');
      const event = server.events.find((e) => e.type === 'customer.subscription.created' && (e.data.object as { id: string }).id === subscription)!;
      // Other events of this org (and of jobs they start) may still arrive: watch only this event's id.
      await server.waitForWebhooks();
      const count = async () => (await t.sql.query(`SELECT count(*)::int AS n FROM control.stripe_events WHERE id = $1`, [event.id])).rows[0].n;
      const before = await count();
      expect((await server.resendEvent(event.id, { tamper: true }))[0].status).toBe(400);
      expect((await server.resendEvent(event.id, { timestamp: Math.floor(Date.now() / 1000) - 600 }))[0].status).toBe(400);
      expect((await server.resendEvent(event.id, { secret: 'whsec_not_the_right_one' }))[0].status).toBe(400);
      expect((await post(JSON.stringify(event))).status).toBe(400);
      const bad = await post(JSON.stringify(event), 't=1,v1=deadbeef');
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/signature/i);
      expect(await count()).toBe(before);
    });

    it('a duplicated event is taken in once', async () => {
      const { subscription } = await paidOrg('whdup');
      const event = server.events.find((e) => e.type === 'customer.subscription.created' && (e.data.object as { id: string }).id === subscription)!;
      const [again] = await server.resendEvent(event.id);
      expect(again.status).toBe(200);
      expect(JSON.parse(again.responseBody)).toEqual({ received: true, duplicate: true });
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM control.stripe_events WHERE id = $1`, [event.id])).rows[0].n).toBe(1);
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM control.outbox WHERE dedupe_key = $1`, [event.id])).rows[0].n).toBe(1);
    });

    it('a customer deleted in Stripe puts the org back on Free with no Stripe ids', async () => {
      const { u, customer } = await paidOrg('whdeleted');
      await sdk.customers.del(customer);
      await waitFor('the org on Free', async () => (await account(t, u.orgId)).stripe_customer_id === null);
      await billingJobsIdle(t);
      expect(await account(t, u.orgId)).toMatchObject({ plan_id: 'free', stripe_subscription_id: null, period_start: null });
      expect((await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body.plan.id).toBe('free');
    });

    it('events delivered in reverse order end in the same state (objects are fetched, not trusted)', async () => {
      const { u, customer, subscription } = await paidOrg('whorder');
      server.holdWebhooks();
      server.declinePaymentsFor(customer);
      const invoice = server.createInvoiceForSubscription(subscription, { autoAdvance: true });
      expect(invoice.status).toBe('open');
      server.declinePaymentsFor(customer, false);
      await sdk.invoices.pay(invoice.id);
      const held = server.heldEvents.map((e) => e.type);
      expect(held).toEqual(expect.arrayContaining(['invoice.payment_failed', 'invoice.paid', 'customer.subscription.updated']));
      expect(held.indexOf('invoice.payment_failed')).toBeLessThan(held.indexOf('invoice.paid'));
      await server.releaseWebhooks(server.heldEvents.map((e) => e.id).reverse());
      await billingJobsIdle(t);
      const invoices = (await t.http().get(`/v1/orgs/${u.orgId}/invoices`).set(u.auth)).body as Array<{ id: string; status: string }>;
      expect(invoices.find((i) => i.id === invoice.id)?.status).toBe('paid');
      const billing = (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body;
      expect(billing).toMatchObject({ subscription: { status: 'active' }, delinquency: { state: 'ok' } });
    });
  });

  describe('plan changes', () => {
    it('upgrading prorates the base fee now; downgrading waits for the period end; over-limit downgrades are refused', async () => {
      const { u, projectId, subscription } = await paidOrg('upgrade');
      travel([t], server, 10 * DAY);
      const up = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'enterprise' });
      expect(up.status).toBe(200);
      expect(up.body).toMatchObject({ change: 'upgrade', plan: { id: 'enterprise' } });
      await billingJobsIdle(t);
      const proration = await waitFor('the proration invoice', async () =>
        ((await t.http().get(`/v1/orgs/${u.orgId}/invoices`).set(u.auth)).body as Array<{ reason: string; total_minor: number; lines: Array<{ kind: string; amount_minor: number }> }>).find(
          (i) => i.reason === 'subscription_update',
        ),
      );
      // Credit for the unused ~2/3 of Pro's 2500, nothing for Enterprise's base (0).
      expect(proration.lines.every((l) => l.kind === 'proration')).toBe(true);
      expect(proration.total_minor).toBeLessThan(-1600);
      expect(proration.total_minor).toBeGreaterThan(-1800);
      const sub = await sdk.subscriptions.retrieve(subscription);
      expect(sub.metadata.plan_id).toBe('enterprise');
      expect(sub.items.data.map((i) => i.price.lookup_key).sort()).toEqual(
        ['base', 'egress_bytes', 'function_gb_seconds', 'function_invocations', 'notifications', 'requests'].map((p) => `plinth_enterprise_v1_${p}`).sort(),
      );

      // Free's hard caps don't hold this month's usage: refused, with what is over.
      await plantUsage(t, projectId, { 'requests:rest': 600_000 });
      const refused = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'free' });
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toMatch(/600000 requests.*500000/);

      const down = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' });
      expect(down.body).toMatchObject({ change: 'downgrade', plan: { id: 'enterprise' }, pending_plan: { id: 'pro' } });
      expect(down.body.pending_plan.effective_at).toBe(down.body.period.end);
      const keep = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'enterprise' });
      expect(keep.body).toMatchObject({ change: 'cancel_downgrade', pending_plan: null });
    });

    it('a downgrade between paid plans takes effect when Stripe rolls the subscription into its next period', async () => {
      const { u, subscription } = await paidOrg('paiddown');
      await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'enterprise' }).expect(200);
      await billingJobsIdle(t);
      await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' }).expect(200);
      await billingJobsIdle(t);
      expect((await sdk.subscriptions.retrieve(subscription)).metadata.plan_id).toBe('enterprise');
      server.createInvoiceForSubscription(subscription, { autoAdvance: true });
      await waitFor('the org on Pro', async () => (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body.plan.id === 'pro');
      await billingJobsIdle(t);
      const sub = await sdk.subscriptions.retrieve(subscription);
      expect(sub.metadata.plan_id).toBe('pro');
      expect(sub.items.data.every((i) => i.price.lookup_key?.startsWith('plinth_pro_v1_'))).toBe(true);
      expect((await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body.pending_plan).toBeNull();
    });

    it('a downgrade to Free cancels the subscription at period end; the renewal bills usage only and the org ends on Free', async () => {
      const { u, subscription } = await paidOrg('tofree');
      const down = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'free' });
      expect(down.body).toMatchObject({ change: 'downgrade', plan: { id: 'pro' }, pending_plan: { id: 'free' } });
      await billingJobsIdle(t);
      expect((await sdk.subscriptions.retrieve(subscription)).cancel_at_period_end).toBe(true);
      const last = server.createInvoiceForSubscription(subscription, { autoAdvance: true });
      expect(last.lines.data.every((l) => l.amount === 0)).toBe(true);
      const billing = await waitFor('the org on Free', async () => {
        const res = await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth);
        return res.body.plan.id === 'free' ? res.body : undefined;
      });
      expect(billing).toMatchObject({ pending_plan: null, subscription: null });
      expect((await t.sql.query(`SELECT plan_id FROM control.org_plans WHERE org_id = $1`, [u.orgId])).rows[0].plan_id).toBe('free');
    });
  });

  it('delinquency: grace, then read-only (writes 402), then suspended; payment restores at once', async () => {
    const { u, ref, publishable, customer, subscription } = await paidOrg('delinquent');
    const read = () => t.http().get(`/p/${ref}/rest/v1/`).set('apikey', publishable);
    const write = () => t.http().post(`/p/${ref}/rest/v1/todos`).set('apikey', publishable).send({ title: 'x' });
    const state = async () => (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body.delinquency.state as string;
    server.declinePaymentsFor(customer);
    const invoice = server.createInvoiceForSubscription(subscription, { autoAdvance: true });
    expect(invoice.status).toBe('open');
    await waitFor('grace', async () => (await state()) === 'grace');
    expect((await write()).status).not.toBe(402);

    travel([t], server, 6 * DAY);
    expect(await state()).toBe('grace');
    expect((await write()).status).not.toBe(402);

    travel([t], server, 2 * DAY);
    expect(await state()).toBe('read_only');
    expect((await read()).status).toBe(200);
    const refused = await write();
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'payment_required' });

    travel([t], server, 14 * DAY);
    expect(await state()).toBe('suspended');
    expect((await read()).status).toBe(402);
    // Owners and billing members are told where the org stands.
    const notices = await t.app.get(DelinquencyNoticesJob).run();
    expect(notices.find((n) => n.orgId === u.orgId)).toMatchObject({ state: 'suspended', to: [u.email] });

    server.declinePaymentsFor(customer, false);
    await sdk.invoices.pay(invoice.id);
    await waitFor('access restored', async () => (await read()).status === 200);
    expect((await write()).status).not.toBe(402);
    expect(await state()).toBe('ok');
  });

  it('ledger-only mode invoices the same usage exactly as Stripe does (per meter, base fee, total)', async () => {
    // A second api on the same database without STRIPE_SECRET_KEY (and without a job runner).
    const ledgerApp = await bootBillingApp(fastJobs, false);
    try {
      const GiB = 1024 ** 3;
      const usage = { 'requests:rest': 6_000_000, egress_bytes: 300 * GiB, function_gb_seconds: 1_500_000.5, 'notifications:email': 100_050 };
      await backInTime([t, ledgerApp], server);
      const orgs = [];
      for (const app of [t, ledgerApp]) {
        const u = await signup(app, 'same');
        const p = await createProject(app, u, 'same');
        await app.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' }).expect(200);
        orgs.push({ app, u, p });
      }
      const [s, l] = orgs;
      const sub = await waitFor('the subscription', async () => (await account(t, s.u.orgId))?.stripe_subscription_id);
      for (const o of orgs) await plantUsage(o.app, o.p.id, usage);

      // Stripe: the hour (complete now) is reported, and the renewal invoice prices it.
      setClocks([t, ledgerApp], server, new Date());
      expect((await reporter().report(s.u.orgId)).pending).toBe(0);
      const stripeInvoice = server.createInvoiceForSubscription(sub);
      const catalog = t.app.get(StripeCatalogService);
      const stripeAmounts: Record<string, number> = {};
      for (const line of stripeInvoice.lines.data) {
        const part = (await catalog.describePrice(line.pricing!.price_details!.price as string))!.part;
        stripeAmounts[part] = (stripeAmounts[part] ?? 0) + line.amount;
      }

      // Ledger-only: the period ends and the local renewal prices the same hour.
      ledgerApp.clock.travel(32 * DAY);
      expect(await ledgerApp.app.get(PeriodCloserService).run()).toBeGreaterThanOrEqual(1);
      const ledgerInvoices = (await ledgerApp.http().get(`/v1/orgs/${l.u.orgId}/invoices`).set(l.u.auth)).body as Array<{
        reason: string;
        total_minor: number;
        lines: Array<{ kind: string; meter?: string; amount_minor: number }>;
      }>;
      const cycle = ledgerInvoices.find((i) => i.reason === 'subscription_cycle')!;
      const ledgerAmounts: Record<string, number> = {};
      for (const line of cycle.lines) ledgerAmounts[line.kind === 'base' ? 'base' : line.meter!] = line.amount_minor;

      expect(ledgerAmounts).toEqual(stripeAmounts);
      // 1 M requests × 0.0002 = 200; 50 GiB × 0.0000000084/B = 450.97 → 451; 500 000.5 GB-s × 0.00166 = 830; 50 × 0.1 = 5.
      expect(ledgerAmounts).toEqual({ base: 2500, requests: 200, egress_bytes: 451, function_gb_seconds: 830, notifications: 5, function_invocations: 0 });
      expect(cycle.total_minor).toBe(stripeInvoice.total);
      expect(stripeInvoice.total).toBe(3986);
    } finally {
      await ledgerApp.close();
    }
  });
});
