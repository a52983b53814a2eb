import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import type { BillingOverview, Invoice, Plan } from '../api/types';
import { Button, Empty, ErrorState, FormError, formatDate, formatMoney, Loading, PageHeader, Select } from '../components/ui';

export function BillingPage() {
  const { orgId = '' } = useParams();
  const queries = useQueryClient();
  const overview = useQuery({ queryKey: ['billing', orgId], queryFn: () => unwrap<BillingOverview>(api.GET('/v1/orgs/{orgId}/billing', { params: { path: { orgId } } })) });
  const invoices = useQuery({ queryKey: ['invoices', orgId], queryFn: () => unwrap<Invoice[]>(api.GET('/v1/orgs/{orgId}/invoices', { params: { path: { orgId } } })) });
  const plans = useQuery({ queryKey: ['plans'], queryFn: () => unwrap<Plan[]>(api.GET('/v1/plans')) });
  const [plan, setPlan] = useState('');
  const change = useMutation({
    mutationFn: () => unwrap(api.PUT('/v1/orgs/{orgId}/billing/plan', { params: { path: { orgId } }, body: { plan } })),
    onSuccess: () => {
      setPlan('');
      void queries.invalidateQueries({ queryKey: ['billing', orgId] });
      void queries.invalidateQueries({ queryKey: ['invoices', orgId] });
      void queries.invalidateQueries({ queryKey: ['orgs'] });
    },
  });
  const stripe = useMutation({
    mutationFn: (kind: 'checkout-session' | 'portal-session') =>
      unwrap<{ url: string }>(
        kind === 'checkout-session'
          ? api.POST('/v1/orgs/{orgId}/billing/checkout-session', { params: { path: { orgId } }, body: {} })
          : api.POST('/v1/orgs/{orgId}/billing/portal-session', { params: { path: { orgId } }, body: {} }),
      ),
    onSuccess: (s) => window.location.assign(s.url),
  });
  if (overview.isPending) return <Loading />;
  if (overview.isError) return <ErrorState error={overview.error} retry={() => void overview.refetch()} />;
  const o = overview.data;
  const money = (minor: number) => formatMoney(minor, o.currency);
  return (
    <>
      <PageHeader title="Billing" />
      {o.mode === 'ledger_only' ? (
        <div className="alert alert-info" role="note">
          Ledger-only billing: this installation has no Stripe account, so usage is priced and invoiced locally and nothing is charged.
        </div>
      ) : null}
      {o.delinquency.state !== 'ok' && o.delinquency.state !== 'none' ? <div className="alert alert-warn">Payment problem: {o.delinquency.state}</div> : null}
      <section className="panel">
        <h2>Plan</h2>
        <p>
          Current plan: <strong data-testid="current-plan">{o.plan.name}</strong>
          {o.pending_plan ? <> · changes to <strong>{o.pending_plan.id}</strong> on {formatDate(o.pending_plan.effective_at)}</> : null}
        </p>
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); if (plan) change.mutate(); }}>
          <Select label="Change plan" value={plan} onChange={setPlan} options={[{ value: '', label: 'Choose a plan…' }, ...(plans.data ?? []).map((p) => ({ value: p.id, label: p.name }))]} />
          <Button type="submit" variant="secondary" disabled={!plan || plan === o.plan.id} busy={change.isPending}>Change plan</Button>
        </form>
        <p className="muted">Upgrades apply now (prorated); downgrades at the end of the period.</p>
        <FormError error={change.error} />
        {change.isSuccess ? <p className="ok" role="status">Plan change recorded.</p> : null}
        {o.mode === 'stripe' ? (
          <div className="actions left">
            <Button variant="secondary" onClick={() => stripe.mutate('checkout-session')} busy={stripe.isPending}>Add payment method</Button>
            <Button variant="secondary" onClick={() => stripe.mutate('portal-session')} busy={stripe.isPending}>Manage billing in Stripe</Button>
          </div>
        ) : null}
        <FormError error={stripe.error} />
      </section>
      <section className="panel">
        <h2>Upcoming invoice</h2>
        <p className="muted">Period {formatDate(o.period.start)} – {formatDate(o.period.end)}</p>
        <div className="table-wrap">
          <table className="data-table">
            <thead><tr><th>Item</th><th>Used</th><th>Included</th><th>Overage</th><th>So far</th><th>Projected</th></tr></thead>
            <tbody>
              <tr><td>Base fee</td><td /><td /><td /><td>{money(o.base_fee_minor)}</td><td>{money(o.base_fee_minor)}</td></tr>
              {Object.entries(o.meters).map(([name, m]) => (
                <tr key={name}>
                  <td>{name}</td><td>{m.used.toLocaleString()}</td><td>{m.included.toLocaleString()}</td><td>{m.overage.toLocaleString()}</td>
                  <td>{money(m.cost_minor)}</td><td>{money(m.projected_minor)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot><tr><th>Total</th><td /><td /><td /><th>{money(o.cost_to_date_minor)}</th><th>{money(o.projected_minor)}</th></tr></tfoot>
          </table>
        </div>
      </section>
      <section className="panel">
        <h2>Invoices</h2>
        {invoices.isPending ? <Loading /> : invoices.isError ? <ErrorState error={invoices.error} /> : !invoices.data.length ? (
          <Empty title="No invoices yet" />
        ) : (
          <div className="table-wrap">
            <table className="data-table">
              <thead><tr><th>Number</th><th>Period</th><th>Status</th><th>Total</th><th /></tr></thead>
              <tbody>
                {invoices.data.map((i) => (
                  <tr key={i.id}>
                    <td className="mono">{i.number ?? i.id.slice(0, 8)}</td>
                    <td>{formatDate(i.period.start)} – {formatDate(i.period.end)}</td>
                    <td>{i.status}</td>
                    <td>{formatMoney(i.total_minor, i.currency)}</td>
                    <td>{i.hosted_url ? <a href={i.hosted_url} target="_blank" rel="noreferrer">View</a> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
