import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** An org's billing state (control.billing_accounts). */
export interface BillingAccount {
  org_id: string;
  currency: string;
  plan_id: string;
  pending_plan_id: string | null;
  period_start: Date | null;
  period_end: Date | null;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  subscription_status: string | null;
  sync_version: number;
  payment_method_at: Date | null;
  delinquent_since: Date | null;
  reported_through: Date | null;
  created_at: Date;
}

/** One invoice line: a base fee, a proration, or a meter's usage with its split over projects. */
export interface InvoiceLine {
  kind: 'base' | 'proration' | 'usage' | 'other';
  description: string;
  meter?: string;
  quantity: number;
  included?: number;
  amount_minor: number;
  period: { start: string; end: string };
  projects?: Array<{ project_id: string; ref: string; quantity: number; amount_minor: number }>;
}

export interface InvoiceRecord {
  id: string;
  org_id: string;
  source: 'ledger' | 'stripe';
  stripe_invoice_id: string | null;
  number: string | null;
  reason: string;
  status: string;
  currency: string;
  period_start: Date;
  period_end: Date;
  total_minor: number;
  amount_paid_minor: number;
  attempt_count: number;
  plan_id: string | null;
  price_version: number | null;
  lines: InvoiceLine[];
  hosted_url: string | null;
  created_at: Date;
}

const ACCOUNT_COLUMNS = `org_id, currency, plan_id, pending_plan_id, period_start, period_end, stripe_customer_id, stripe_subscription_id,
  subscription_status, sync_version, payment_method_at, delinquent_since, reported_through, created_at`;

type Patch = Partial<Omit<BillingAccount, 'org_id' | 'created_at'>>;

/** Data access for billing accounts, invoices, delinquency notices and the pending-report count. Writes take the caller's EntityManager (its transaction). */
@Injectable()
export class BillingAccountRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async get(orgId: string, m: EntityManager = this.db.manager, lock = false): Promise<BillingAccount | null> {
    const rows = (await m.query(`SELECT ${ACCOUNT_COLUMNS} FROM control.billing_accounts WHERE org_id = $1${lock ? ' FOR UPDATE' : ''}`, [orgId])) as BillingAccount[];
    return rows[0] ?? null;
  }

  /** When the org's non-payment began (null when in good standing or without an account): the gateway's billing check. */
  async delinquentSince(orgId: string): Promise<Date | null> {
    const rows = (await this.db.query(`SELECT delinquent_since FROM control.billing_accounts WHERE org_id = $1`, [orgId])) as Array<{ delinquent_since: Date | null }>;
    return rows[0]?.delinquent_since ?? null;
  }

  /** The org's account, created on first need with the org's current plan; locked for the caller's transaction. */
  async getOrCreate(m: EntityManager, orgId: string, defaults: { currency: string; planId: string; at: Date }): Promise<BillingAccount> {
    await m.query(
      `INSERT INTO control.billing_accounts (org_id, currency, plan_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (org_id) DO NOTHING`,
      [orgId, defaults.currency, defaults.planId, defaults.at],
    );
    return (await this.get(orgId, m, true))!;
  }

  async byCustomer(customerId: string): Promise<BillingAccount | null> {
    const rows = (await this.db.query(`SELECT ${ACCOUNT_COLUMNS} FROM control.billing_accounts WHERE stripe_customer_id = $1`, [customerId])) as BillingAccount[];
    return rows[0] ?? null;
  }

  async update(m: EntityManager, orgId: string, patch: Patch, at: Date): Promise<void> {
    const keys = Object.keys(patch) as Array<keyof Patch>;
    if (!keys.length) return;
    const sets = keys.map((k, i) => `${k} = $${i + 3}`).join(', ');
    await m.query(`UPDATE control.billing_accounts SET ${sets}, updated_at = $2 WHERE org_id = $1`, [orgId, at, ...keys.map((k) => patch[k])]);
  }

  /** Stores the org's Stripe customer unless one is already stored (a concurrent caller's, the same customer). */
  async setCustomerIfUnset(orgId: string, customerId: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE control.billing_accounts SET stripe_customer_id = $2, updated_at = $3 WHERE org_id = $1 AND stripe_customer_id IS NULL`, [orgId, customerId, at]);
  }

  /** Usage up to `to` has been turned into reports (never moves back). */
  async advanceReportedThrough(m: EntityManager, orgId: string, to: Date, at: Date): Promise<void> {
    await m.query(`UPDATE control.billing_accounts SET reported_through = greatest(coalesce(reported_through, $2), $2), updated_at = $3 WHERE org_id = $1`, [orgId, to, at]);
  }

  /** Notes when the org first gave a payment method (kept if already set). */
  async markPaymentMethod(orgId: string, at: Date): Promise<void> {
    await this.db.query(`UPDATE control.billing_accounts SET payment_method_at = coalesce(payment_method_at, $2), updated_at = $2 WHERE org_id = $1`, [orgId, at]);
  }

  /** Stores what Stripe says about the subscription; a null period leaves the stored one. */
  async recordSubscription(
    orgId: string,
    sub: { id: string | null; status: string; periodStart: Date | null; periodEnd: Date | null },
    at: Date,
  ): Promise<void> {
    await this.db.query(
      `UPDATE control.billing_accounts SET stripe_subscription_id = $2, subscription_status = $3,
              period_start = coalesce($4, period_start), period_end = coalesce($5, period_end), updated_at = $6
        WHERE org_id = $1`,
      [orgId, sub.id, sub.status, sub.periodStart, sub.periodEnd, at],
    );
  }

  /** Records a delinquency notice (org, episode, state) in `m`'s transaction; false when already recorded. */
  async recordNotice(m: EntityManager, orgId: string, delinquentSince: Date, state: string, at: Date): Promise<boolean> {
    const inserted = (await m.query(
      `INSERT INTO control.billing_notices (org_id, delinquent_since, state, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING 1`,
      [orgId, delinquentSince, state, at],
    )) as unknown[];
    return inserted.length > 0;
  }

  /** A recorded notice's delivery state with the account's current `delinquent_since`, or null. */
  async notice(orgId: string, delinquentSince: Date | string, state: string): Promise<{ notified_at: Date | null; current_since: Date | null } | null> {
    const rows = (await this.db.query(
      `SELECT n.notified_at, b.delinquent_since AS current_since
         FROM control.billing_notices n
         LEFT JOIN control.billing_accounts b ON b.org_id = n.org_id
        WHERE n.org_id = $1 AND n.delinquent_since = $2 AND n.state = $3`,
      [orgId, delinquentSince, state],
    )) as Array<{ notified_at: Date | null; current_since: Date | null }>;
    return rows[0] ?? null;
  }

  async markNoticeSent(orgId: string, delinquentSince: Date | string, state: string, at: Date): Promise<void> {
    await this.db.query(
      `UPDATE control.billing_notices SET notified_at = $4 WHERE org_id = $1 AND delinquent_since = $2 AND state = $3 AND notified_at IS NULL`,
      [orgId, delinquentSince, state, at],
    );
  }

  /** How many of the org's hourly usage reports to Stripe are still pending, and the oldest hour. */
  async pendingReports(orgId: string): Promise<{ n: number; oldest: Date | null }> {
    const [row] = (await this.db.query(`SELECT count(*)::int AS n, min(hour) AS oldest FROM control.meter_reports WHERE org_id = $1 AND status = 'pending'`, [
      orgId,
    ])) as Array<{ n: number; oldest: Date | null }>;
    return row;
  }

  /** Accounts whose Stripe subscription exists (usage is reported for them). */
  async connected(): Promise<BillingAccount[]> {
    return (await this.db.query(
      `SELECT ${ACCOUNT_COLUMNS} FROM control.billing_accounts
        WHERE stripe_customer_id IS NOT NULL AND stripe_subscription_id IS NOT NULL ORDER BY org_id`,
    )) as BillingAccount[];
  }

  /** Ledger-only accounts (no Stripe subscription) whose period has ended by `at`. */
  async ledgerPeriodsEnded(at: Date): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT org_id FROM control.billing_accounts WHERE stripe_subscription_id IS NULL AND period_end IS NOT NULL AND period_end <= $1`,
      [at],
    )) as Array<{ org_id: string }>;
    return rows.map((r) => r.org_id);
  }

  async delinquent(): Promise<BillingAccount[]> {
    return (await this.db.query(`SELECT ${ACCOUNT_COLUMNS} FROM control.billing_accounts WHERE delinquent_since IS NOT NULL`)) as BillingAccount[];
  }

  // ---------------------------------------------------------------- invoices

  /** Inserts a ledger invoice once per (org, reason, period); returns false when it already existed. */
  async insertLedgerInvoice(m: EntityManager, inv: Omit<InvoiceRecord, 'id' | 'source' | 'stripe_invoice_id' | 'hosted_url' | 'amount_paid_minor' | 'attempt_count'>): Promise<boolean> {
    const rows = (await m.query(
      `INSERT INTO control.invoices (org_id, source, number, reason, status, currency, period_start, period_end, total_minor, plan_id, price_version, lines, created_at, updated_at)
       VALUES ($1, 'ledger', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
       ON CONFLICT (org_id, reason, period_start, period_end) WHERE source = 'ledger' DO NOTHING RETURNING id`,
      [inv.org_id, inv.number, inv.reason, inv.status, inv.currency, inv.period_start, inv.period_end, inv.total_minor, inv.plan_id, inv.price_version, JSON.stringify(inv.lines), inv.created_at],
    )) as unknown[];
    return rows.length === 1;
  }

  /** Mirrors a Stripe invoice as it is now (upsert by Stripe id). */
  async upsertStripeInvoice(m: EntityManager, inv: Omit<InvoiceRecord, 'id' | 'source' | 'price_version'>, at: Date): Promise<void> {
    await m.query(
      `INSERT INTO control.invoices (org_id, source, stripe_invoice_id, number, reason, status, currency, period_start, period_end, total_minor,
                                     amount_paid_minor, attempt_count, plan_id, lines, hosted_url, created_at, updated_at)
       VALUES ($1, 'stripe', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (stripe_invoice_id) DO UPDATE SET number = EXCLUDED.number, status = EXCLUDED.status, total_minor = EXCLUDED.total_minor,
         amount_paid_minor = EXCLUDED.amount_paid_minor, attempt_count = EXCLUDED.attempt_count, lines = EXCLUDED.lines,
         hosted_url = EXCLUDED.hosted_url, updated_at = EXCLUDED.updated_at`,
      [inv.org_id, inv.stripe_invoice_id, inv.number, inv.reason, inv.status, inv.currency, inv.period_start, inv.period_end, inv.total_minor,
        inv.amount_paid_minor, inv.attempt_count, inv.plan_id, JSON.stringify(inv.lines), inv.hosted_url, inv.created_at, at],
    );
  }

  async invoices(orgId: string, limit = 100): Promise<InvoiceRecord[]> {
    const rows = (await this.db.query(
      `SELECT id, org_id, source, stripe_invoice_id, number, reason, status, currency, period_start, period_end, total_minor::float8 AS total_minor,
              amount_paid_minor::float8 AS amount_paid_minor, attempt_count, plan_id, price_version, lines, hosted_url, created_at
         FROM control.invoices WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
      [orgId, limit],
    )) as InvoiceRecord[];
    return rows;
  }

  /** Whether the org has an open Stripe invoice whose payment failed (the delinquency condition). */
  async hasFailedOpenInvoice(m: EntityManager, orgId: string): Promise<boolean> {
    const rows = (await m.query(
      `SELECT 1 FROM control.invoices WHERE org_id = $1 AND source = 'stripe' AND status = 'open' AND attempt_count > 0 LIMIT 1`,
      [orgId],
    )) as unknown[];
    return rows.length > 0;
  }

  async nextLedgerNumber(m: EntityManager, orgId: string): Promise<string> {
    const rows = (await m.query(`SELECT count(*)::int AS n FROM control.invoices WHERE org_id = $1 AND source = 'ledger'`, [orgId])) as Array<{ n: number }>;
    return `PL-${orgId.slice(0, 8).toUpperCase()}-${String(rows[0].n + 1).padStart(4, '0')}`;
  }
}
