import { PeriodCloserService, PriceBookService } from '@plinth/billing';
import { bootBillingApp, DAY, fastJobs, plantUsage } from '../support/billing-harness';
import { createProject, signup, TestApp } from '../support/test-app';

interface Line {
  kind: string;
  meter?: string;
  quantity: number;
  amount_minor: number;
  projects?: Array<{ ref: string; quantity: number; amount_minor: number }>;
}
interface Invoice {
  id: string;
  source: string;
  reason: string;
  status: string;
  total_minor: number;
  period: { start: string; end: string };
  lines: Line[];
}

/** Ledger-only mode; the same-amounts-as-Stripe check lives with the Stripe suite (one Stripe-enabled api per run). */
describe('billing in ledger-only mode (no STRIPE_SECRET_KEY)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootBillingApp(fastJobs, false);
  });
  afterAll(() => t?.close());

  const invoices = async (orgId: string, auth: Record<string, string>) => (await t.http().get(`/v1/orgs/${orgId}/invoices`).set(auth)).body as Invoice[];

  it('invoices locally: subscription start, prorated upgrade, period-end usage per meter and project, then the pending downgrade', async () => {
    const u = await signup(t, 'ledger');
    const a = await createProject(t, u, 'a');
    const b = await createProject(t, u, 'b');
    const free = await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth);
    expect(free.body).toMatchObject({ mode: 'ledger_only', plan: { id: 'free' }, base_fee_minor: 0, cost_to_date_minor: 0, subscription: null, reporting: null });
    expect(new Date(free.body.period.start).getUTCDate()).toBe(1);
    expect(await invoices(u.orgId, u.auth)).toEqual([]);

    const up = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' });
    expect(up.body).toMatchObject({ change: 'upgrade', plan: { id: 'pro' }, base_fee_minor: 2500 });
    const [start] = await invoices(u.orgId, u.auth);
    expect(start).toMatchObject({ source: 'ledger', reason: 'subscription_create', total_minor: 2500, lines: [{ kind: 'base', amount_minor: 2500 }] });
    expect((await t.sql.query(`SELECT action FROM control.audit_log WHERE org_id = $1 AND action = 'billing.plan.change'`, [u.orgId])).rows).toHaveLength(1);

    await plantUsage(t, a.id, { 'requests:rest': 5_500_000 });
    await plantUsage(t, b.id, { 'requests:rest': 500_000 });
    const mid = (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body;
    expect(mid.meters.requests).toMatchObject({ used: 6_000_000, overage: 1_000_000, cost_minor: 200 });

    t.clock.travel(10 * DAY);
    await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'enterprise' }).expect(200);
    const proration = (await invoices(u.orgId, u.auth)).find((i) => i.reason === 'subscription_update')!;
    expect(proration.lines).toHaveLength(1); // Enterprise's base fee is 0: only Pro's unused time is credited
    expect(proration.total_minor).toBeLessThan(-1600);
    expect(proration.total_minor).toBeGreaterThan(-1800);

    const down = await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' });
    expect(down.body).toMatchObject({ change: 'downgrade', plan: { id: 'enterprise' }, pending_plan: { id: 'pro' } });
    expect((await t.http().post(`/v1/orgs/${u.orgId}/billing/checkout-session`).set(u.auth).send({})).status).toBe(409);

    const closer = t.app.get(PeriodCloserService);
    expect(await closer.run()).toBe(0); // the period hasn't ended
    t.clock.travel(22 * DAY);
    // Other suites' orgs in this database (upgraded at real time) may come due too: count ours through its invoice.
    expect(await closer.run()).toBeGreaterThanOrEqual(1);
    expect(await closer.run()).toBe(0);
    expect((await invoices(u.orgId, u.auth)).filter((i) => i.reason === 'subscription_cycle')).toHaveLength(1);
    const cycle = (await invoices(u.orgId, u.auth)).find((i) => i.reason === 'subscription_cycle')!;
    const requests = cycle.lines.find((l) => l.meter === 'requests')!;
    // The ended period's usage is priced under the plan held at its end (Enterprise, which includes 100 M requests).
    expect(requests).toMatchObject({ kind: 'usage', quantity: 6_000_000, amount_minor: 0 });
    const base = cycle.lines.find((l) => l.kind === 'base')!;
    expect(base.amount_minor).toBe(2500); // the next period, in advance, on Pro (the downgrade took effect)
    expect(cycle.total_minor).toBe(cycle.lines.reduce((s, l) => s + l.amount_minor, 0));
    const after = (await t.http().get(`/v1/orgs/${u.orgId}/billing`).set(u.auth)).body;
    expect(after).toMatchObject({ plan: { id: 'pro' }, pending_plan: null });
    expect(after.period.start).toBe(cycle.period.end);
  });

  it('splits a meter amount over projects by usage, exactly', async () => {
    const u = await signup(t, 'split');
    const a = await createProject(t, u, 'a');
    const b = await createProject(t, u, 'b');
    await t.http().put(`/v1/orgs/${u.orgId}/billing/plan`).set(u.auth).send({ plan: 'pro' }).expect(200);
    await plantUsage(t, a.id, { 'requests:rest': 5_500_000 });
    await plantUsage(t, b.id, { 'requests:rest': 500_000 });
    t.clock.travel(32 * DAY);
    await t.app.get(PeriodCloserService).run();
    const cycle = (await invoices(u.orgId, u.auth)).find((i) => i.reason === 'subscription_cycle')!;
    const requests = cycle.lines.find((l) => l.meter === 'requests')!;
    expect(requests.amount_minor).toBe(200);
    expect(requests.projects?.map((p) => [p.ref, p.quantity, p.amount_minor]).sort()).toEqual(
      [
        [a.ref, 5_500_000, 183],
        [b.ref, 500_000, 17],
      ].sort(),
    );
  });

  it('publishes price changes for a future period only; price book rows are immutable', async () => {
    const book = t.app.get(PriceBookService);
    await expect(book.publish('pro', { base_fee_minor: 3000, meters: {}, effective_from: new Date(t.clock.nowMs() - 1000) })).rejects.toThrow(/future/);
    await expect(t.sql.query(`UPDATE control.price_book SET base_fee_minor = 1 WHERE plan_id = 'pro'`)).rejects.toThrow(/immutable/);
    await expect(t.sql.query(`DELETE FROM control.price_book WHERE plan_id = 'pro'`)).rejects.toThrow(/immutable/);
    // A new version prices periods starting from its effective date; the running ones keep theirs.
    const v2 = await book.publish('pro', { base_fee_minor: 3000, meters: { requests: { included: 1_000_000, unit_price: '0.0003' } }, effective_from: new Date('2100-01-01T00:00:00Z') });
    expect(v2.version).toBe(2);
    expect((await book.versionAt('pro', new Date('2099-12-31T00:00:00Z')))?.version).toBe(1);
    expect((await book.versionAt('pro', new Date('2100-01-01T00:00:00Z')))?.base_fee_minor).toBe(3000);
  });
});
