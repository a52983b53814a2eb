import { JobScheduler } from '@plinth/jobs';
import { MeteringService, UsageRepository } from '@plinth/metering';
import { randomUUID } from 'node:crypto';
import { StripeTestServer } from '../stripe/stripe-test-server';
import { bootTestApp, TestApp } from './test-app';
import { waitFor } from './wait';

export const WEBHOOK_SECRET = 'whsec_plinth_billing_e2e';
export const HOUR = 3600_000;
export const DAY = 86_400_000;

/** Env that points the api's Stripe SDK at a local test server (and speeds jobs up). */
export function stripeEnv(server: StripeTestServer, extra: Record<string, string> = {}): Record<string, string> {
  const port = new URL(server.url).port;
  return {
    STRIPE_SECRET_KEY: 'sk_test_plinth_e2e',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_HOST: '127.0.0.1',
    STRIPE_API_PORT: port,
    STRIPE_API_PROTOCOL: 'http',
    STRIPE_TIMEOUT_MS: '1500',
    ...fastJobs,
    ...extra,
  };
}

export const fastJobs = { JOBS_POLL_MS: '20', JOBS_BACKOFF_MS: '50', REDIS_URL: '' };

/**
 * Boots the api with its in-process job runner, but without the repeatable schedules: tests drive the hourly
 * jobs themselves (the clock is moved by hand), so a scheduled run can't race an assertion.
 */
export async function bootBillingApp(env: Record<string, string>, withWorker = true): Promise<TestApp> {
  const t = await bootTestApp(env, undefined, { withWorker });
  if (withWorker) {
    t.app.get(JobScheduler).onApplicationShutdown();
    // The scheduler's first tick at boot enqueued this hour's runs; let them finish before tests move clocks.
    await waitFor('the boot-time scheduled jobs', async () => {
      const { rows } = await t.sql.query(
        `SELECT count(*)::int AS n FROM control.outbox WHERE queue = 'billing' AND dedupe_key LIKE 'schedule:%' AND status IN ('pending', 'running') AND run_at <= now()`,
      );
      return rows[0].n === 0;
    });
  }
  return t;
}

/**
 * Sets Plinth's clocks and the Stripe server's clock to one instant. Tests that need a complete hour of usage
 * start their org two hours in the past and come back to the present to report it. (They never run the usage
 * roll-up: its watermark is shared by every suite of the run.)
 */
export function setClocks(apps: TestApp[], server: StripeTestServer | null, at: Date): void {
  for (const t of apps) t.clock.set(at);
  server?.setClock(Math.floor(at.getTime() / 1000));
}

/** A few minutes into the hour that began two hours ago: its usage is complete (reportable) now. */
export function twoHoursAgo(): Date {
  return new Date(Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR + 5 * 60_000);
}

/**
 * Moves the clocks two hours back, after the billing jobs already enqueued have run (a job enqueued at the
 * present would otherwise wait two hours of the moved clock before it is due).
 */
export async function backInTime(apps: TestApp[], server: StripeTestServer | null): Promise<void> {
  for (const t of apps) await billingJobsIdle(t);
  setClocks(apps, server, twoHoursAgo());
}

/** Moves Plinth's clock and the Stripe server's clock together. */
export function travel(apps: TestApp[], server: StripeTestServer | null, ms: number): void {
  for (const t of apps) t.clock.travel(ms);
  server?.advanceClock(Math.round(ms / 1000));
}

/** Writes the usage counted in memory so far. */
export async function flush(t: TestApp): Promise<void> {
  await t.app.get(MeteringService).flush();
}

/** Plants usage in the ledger the way a flush would (one batch of minute counters at the app's now). */
export async function plantUsage(t: TestApp, projectId: string, quantities: Record<string, number>): Promise<void> {
  const now = t.clock.nowMs();
  const minute = now - (now % 60_000);
  await t.app.get(UsageRepository).applyBatch(
    randomUUID(),
    Object.entries(quantities).map(([meter, quantity]) => ({ projectId, meter, minute, quantity })),
  );
}

export { waitFor };

/** The account row as stored. */
export async function account(t: TestApp, orgId: string): Promise<Record<string, unknown> & { stripe_customer_id: string | null; stripe_subscription_id: string | null }> {
  const { rows } = await t.sql.query(`SELECT * FROM control.billing_accounts WHERE org_id = $1`, [orgId]);
  return rows[0];
}

/** Waits for the outbox to have no pending or running billing job (plan syncs, webhook events; not schedules). */
export async function billingJobsIdle(t: TestApp): Promise<void> {
  const busy = async () =>
    (
      await t.sql.query(
        `SELECT id, name, status, attempts, run_at, last_error FROM control.outbox
          WHERE queue = 'billing' AND dedupe_key NOT LIKE 'schedule:%' AND status IN ('pending', 'running')`,
      )
    ).rows;
  try {
    await waitFor('billing jobs to finish', async () => (await busy()).length === 0);
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${JSON.stringify(await busy())}`);
  }
}
