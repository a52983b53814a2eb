import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 6: billing. The price book (versioned, append-only), one billing account per org (plan, period, Stripe
 * ids, delinquency), invoices (local ones in ledger-only mode, mirrors of Stripe's otherwise), hourly meter
 * reports to Stripe with their identifiers, the Stripe catalog ids `stripe:sync` created, and webhook event ids
 * already taken in.
 */
export class Billing1763900400000 implements MigrationInterface {
  name = 'Billing1763900400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      -- What a plan costs, per version: a base fee and, per meter, an included amount and the overage price
      -- (per unit, or graduated/volume tiers past the included amount). A version applies to billing periods that
      -- start on or after effective_from; rows are never updated or deleted, so a closed period never changes.
      CREATE TABLE control.price_book (
        plan_id text NOT NULL REFERENCES control.plans(id),
        version int NOT NULL CHECK (version > 0),
        effective_from timestamptz NOT NULL,
        currency text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
        base_fee_minor bigint NOT NULL CHECK (base_fee_minor >= 0),
        meters jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (plan_id, version),
        UNIQUE (plan_id, effective_from)
      );
      CREATE FUNCTION control.price_book_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'price_book rows are immutable: publish a new version instead';
      END $$;
      CREATE TRIGGER price_book_immutable BEFORE UPDATE OR DELETE ON control.price_book
        FOR EACH ROW EXECUTE FUNCTION control.price_book_immutable();

      CREATE TABLE control.billing_accounts (
        org_id uuid PRIMARY KEY REFERENCES control.orgs(id) ON DELETE CASCADE,
        currency text NOT NULL,
        plan_id text NOT NULL REFERENCES control.plans(id),
        -- A downgrade waits for the end of the period.
        pending_plan_id text REFERENCES control.plans(id),
        -- The subscription's current period (null while on a free plan: the calendar month applies).
        period_start timestamptz,
        period_end timestamptz,
        stripe_customer_id text UNIQUE,
        stripe_subscription_id text UNIQUE,
        subscription_status text,
        -- Bumped on every change Stripe must follow; the sync job's idempotency keys carry it.
        sync_version int NOT NULL DEFAULT 0,
        payment_method_at timestamptz,
        delinquent_since timestamptz,
        -- Hours before this have been queued for reporting to Stripe.
        reported_through timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX billing_accounts_delinquent_idx ON control.billing_accounts (delinquent_since) WHERE delinquent_since IS NOT NULL;

      CREATE TABLE control.invoices (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        org_id uuid NOT NULL REFERENCES control.orgs(id) ON DELETE CASCADE,
        source text NOT NULL CHECK (source IN ('ledger', 'stripe')),
        stripe_invoice_id text UNIQUE,
        number text,
        reason text NOT NULL,
        status text NOT NULL,
        currency text NOT NULL,
        period_start timestamptz NOT NULL,
        period_end timestamptz NOT NULL,
        total_minor bigint NOT NULL,
        amount_paid_minor bigint NOT NULL DEFAULT 0,
        attempt_count int NOT NULL DEFAULT 0,
        plan_id text,
        price_version int,
        lines jsonb NOT NULL,
        hosted_url text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX invoices_org_idx ON control.invoices (org_id, created_at DESC);
      -- A ledger invoice is generated once per (org, reason, period).
      CREATE UNIQUE INDEX invoices_ledger_once ON control.invoices (org_id, reason, period_start, period_end) WHERE source = 'ledger';

      -- One row per meter event sent (or to send) to Stripe. seq 0 is the hourly report (identifier
      -- <org>:<meter>:<hour>); higher seqs are reconciliation corrections (<org>:<meter>:<hour>:c<seq>).
      CREATE TABLE control.meter_reports (
        org_id uuid NOT NULL REFERENCES control.orgs(id) ON DELETE CASCADE,
        meter text NOT NULL,
        hour timestamptz NOT NULL,
        seq int NOT NULL,
        identifier text NOT NULL UNIQUE,
        quantity numeric NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted')),
        attempts int NOT NULL DEFAULT 0,
        last_error text,
        created_at timestamptz NOT NULL,
        accepted_at timestamptz,
        PRIMARY KEY (org_id, meter, hour, seq)
      );
      CREATE INDEX meter_reports_pending_idx ON control.meter_reports (hour) WHERE status = 'pending';

      -- Stripe ids of the catalog stripe:sync made: meters by meter, products by plan, prices by plan version part.
      CREATE TABLE control.stripe_catalog (
        kind text NOT NULL CHECK (kind IN ('meter', 'product', 'price')),
        key text NOT NULL,
        stripe_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, key)
      );

      -- Webhook events taken in (each id once); processing happens in a job that fetches current objects.
      CREATE TABLE control.stripe_events (
        id text PRIMARY KEY,
        type text NOT NULL,
        created timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        processed_at timestamptz
      );

      -- Version 1 of the price book: the seeded plans' fees, included amounts and unit prices for the additive
      -- meters (gauges and monthly active users are limited by quotas but not billed yet).
      INSERT INTO control.price_book (plan_id, version, effective_from, currency, base_fee_minor, meters)
      SELECT p.id, 1, '2000-01-01T00:00:00Z', 'usd', p.monthly_price_cents,
             coalesce((SELECT jsonb_object_agg(m, jsonb_build_object(
                        'included', coalesce(p.included -> m, '0'::jsonb),
                        'unit_price', to_jsonb((p.unit_price_cents ->> m)::text)))
                 FROM unnest(ARRAY['requests', 'egress_bytes', 'function_invocations', 'function_gb_seconds', 'notifications']) AS m
                WHERE p.unit_price_cents ? m), '{}'::jsonb)
        FROM control.plans p;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.stripe_events, control.stripe_catalog, control.meter_reports, control.invoices, control.billing_accounts;
      DROP TRIGGER price_book_immutable ON control.price_book;
      DROP TABLE control.price_book;
      DROP FUNCTION control.price_book_immutable();
    `);
  }
}
