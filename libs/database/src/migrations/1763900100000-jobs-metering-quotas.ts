import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 5: the transactional outbox (jobs), usage counters (metering), plans, per-project limits and usage alerts
 * (quotas). Plans are data; the three seeded here are the price book's defaults.
 */
export class JobsMeteringQuotas1763900100000 implements MigrationInterface {
  name = 'JobsMeteringQuotas1763900100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.outbox (
        id bigserial PRIMARY KEY,
        queue text NOT NULL,
        name text NOT NULL,
        data jsonb NOT NULL,
        org_id uuid,
        dedupe_key text,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'relayed', 'done', 'dead')),
        attempts int NOT NULL DEFAULT 0,
        max_attempts int NOT NULL CHECK (max_attempts > 0),
        generation int NOT NULL DEFAULT 0,
        run_at timestamptz NOT NULL,
        locked_until timestamptz,
        last_error text,
        created_at timestamptz NOT NULL,
        relayed_at timestamptz,
        done_at timestamptz
      );
      CREATE UNIQUE INDEX outbox_dedupe_key ON control.outbox (queue, name, dedupe_key) WHERE dedupe_key IS NOT NULL;
      CREATE INDEX outbox_pending_idx ON control.outbox (run_at, id) WHERE status = 'pending';
      CREATE INDEX outbox_inflight_idx ON control.outbox (locked_until) WHERE status IN ('running', 'relayed');
      CREATE INDEX outbox_dead_idx ON control.outbox (org_id, id) WHERE status = 'dead';
      CREATE INDEX outbox_done_idx ON control.outbox (done_at) WHERE status = 'done';

      CREATE TABLE control.usage_batches (
        batch_id uuid PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE control.usage_minute (
        project_id uuid NOT NULL,
        meter text NOT NULL,
        minute timestamptz NOT NULL,
        quantity numeric NOT NULL,
        PRIMARY KEY (project_id, minute, meter)
      );
      CREATE TABLE control.usage_hour (
        project_id uuid NOT NULL,
        meter text NOT NULL,
        hour timestamptz NOT NULL,
        quantity numeric NOT NULL,
        PRIMARY KEY (project_id, hour, meter)
      );
      CREATE INDEX usage_hour_hour_idx ON control.usage_hour (hour);
      -- Hours before rolled_through are complete in usage_hour; later ones are read from usage_minute.
      CREATE TABLE control.usage_rollup (
        id int PRIMARY KEY CHECK (id = 1),
        rolled_through timestamptz NOT NULL
      );
      -- Gauges (database and file bytes) sampled daily; the latest sample is the current value.
      CREATE TABLE control.usage_samples (
        project_id uuid NOT NULL,
        meter text NOT NULL,
        sampled_on date NOT NULL,
        value numeric NOT NULL,
        sampled_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, meter, sampled_on)
      );

      CREATE TABLE control.plans (
        id text PRIMARY KEY,
        name text NOT NULL,
        public boolean NOT NULL DEFAULT true,
        sort int NOT NULL DEFAULT 0,
        monthly_price_cents int NOT NULL,
        hard_caps boolean NOT NULL,
        included jsonb NOT NULL,
        unit_price_cents jsonb NOT NULL,
        rate_limits jsonb NOT NULL,
        limits jsonb NOT NULL
      );
      CREATE TABLE control.org_plans (
        org_id uuid PRIMARY KEY REFERENCES control.orgs(id) ON DELETE CASCADE,
        plan_id text NOT NULL REFERENCES control.plans(id),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE control.project_limits (
        project_id uuid PRIMARY KEY REFERENCES control.projects(id) ON DELETE CASCADE,
        spend_cap_cents bigint,
        meter_caps jsonb NOT NULL DEFAULT '{}',
        rate_limit jsonb,
        alert_webhook_url text,
        updated_by uuid REFERENCES control.users(id) ON DELETE SET NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE control.usage_alerts (
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        period_start timestamptz NOT NULL,
        meter text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('included', 'cap', 'spend')),
        threshold int NOT NULL CHECK (threshold IN (50, 80, 100)),
        used numeric NOT NULL,
        amount numeric NOT NULL,
        created_at timestamptz NOT NULL,
        notified_at timestamptz,
        PRIMARY KEY (project_id, period_start, meter, kind, threshold)
      );

      INSERT INTO control.plans (id, name, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits) VALUES
      ('free', 'Free', 0, 0, true,
        '{"requests": 500000, "egress_bytes": 5368709120, "db_bytes": 524288000, "file_bytes": 1073741824, "function_invocations": 500000, "function_gb_seconds": 100000, "notifications": 1000, "mau": 50000}',
        '{}',
        '{"project": {"limit": 100, "window_s": 1}, "key": {"limit": 100, "window_s": 1}, "anon_ip": {"limit": 20, "window_s": 1}}',
        '{"projects_per_org": 2, "tables_per_project": 50, "max_upload_bytes": 52428800, "function_timeout_ms": 10000}'),
      ('pro', 'Pro', 1, 2500, false,
        '{"requests": 5000000, "egress_bytes": 268435456000, "db_bytes": 8589934592, "file_bytes": 107374182400, "function_invocations": 2000000, "function_gb_seconds": 1000000, "notifications": 100000, "mau": 100000}',
        '{"requests": 0.0002, "egress_bytes": 0.0000000084, "db_bytes": 0.0000000117, "file_bytes": 0.0000000020, "function_invocations": 0.0002, "function_gb_seconds": 0.00166, "notifications": 0.1, "mau": 0.325}',
        '{"project": {"limit": 1000, "window_s": 1}, "key": {"limit": 1000, "window_s": 1}, "anon_ip": {"limit": 100, "window_s": 1}}',
        '{"projects_per_org": 100, "tables_per_project": 1000, "max_upload_bytes": 5368709120, "function_timeout_ms": 60000}'),
      ('enterprise', 'Enterprise', 2, 0, false,
        '{"requests": 100000000, "egress_bytes": 2199023255552, "db_bytes": 107374182400, "file_bytes": 1099511627776, "function_invocations": 50000000, "function_gb_seconds": 20000000, "notifications": 5000000, "mau": 1000000}',
        '{"requests": 0.0001, "egress_bytes": 0.000000005, "db_bytes": 0.000000008, "file_bytes": 0.0000000015, "function_invocations": 0.0001, "function_gb_seconds": 0.001, "notifications": 0.05, "mau": 0.2}',
        '{"project": {"limit": 10000, "window_s": 1}, "key": {"limit": 10000, "window_s": 1}, "anon_ip": {"limit": 1000, "window_s": 1}}',
        '{"projects_per_org": 1000, "tables_per_project": 10000, "max_upload_bytes": 53687091200, "function_timeout_ms": 900000}');
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.usage_alerts, control.project_limits, control.org_plans, control.plans, control.usage_samples,
        control.usage_rollup, control.usage_hour, control.usage_minute, control.usage_batches, control.outbox;
    `);
  }
}
