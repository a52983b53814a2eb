import { Inject, Injectable, Logger } from '@nestjs/common';
import Stripe from 'stripe';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlinthException } from '@plinth/common';
import { STRIPE_API_VERSION } from './billing.constants';

/** How often one call is tried on 429 / 5xx / network errors before giving up (the caller's job retries later). */
const ATTEMPTS = 4;
const MAX_WAIT_MS = 5_000;

/**
 * The Stripe SDK, configured once from config (pinned API version, host/port for the local test server), or
 * null in ledger-only mode. `call` adds the retry the SDK lacks: it does not retry 429s, and Stripe asks
 * clients to back off on them.
 */
@Injectable()
export class StripeClient {
  private readonly logger = new Logger(StripeClient.name);
  readonly sdk: Stripe | null;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    const s = config.billing.stripe;
    this.sdk = s
      ? new Stripe(s.secretKey, {
          apiVersion: STRIPE_API_VERSION,
          maxNetworkRetries: 2,
          timeout: s.timeoutMs,
          telemetry: false,
          appInfo: { name: 'plinth' },
          ...(s.host ? { host: s.host } : {}),
          ...(s.port ? { port: s.port } : {}),
          ...(s.protocol ? { protocol: s.protocol } : {}),
        })
      : null;
  }

  get enabled(): boolean {
    return this.sdk !== null;
  }

  /** The SDK, or a 409 saying billing runs ledger-only (for console actions that need Stripe). */
  require(): Stripe {
    if (!this.sdk) throw PlinthException.conflict('Billing runs in ledger-only mode (no Stripe account is configured)');
    return this.sdk;
  }

  /** Runs `fn`, retrying rate limits (honouring Retry-After) and in-flight idempotency conflicts with backoff. */
  async call<T>(what: string, fn: (s: Stripe) => Promise<T>): Promise<T> {
    const sdk = this.require();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(sdk);
      } catch (e) {
        if (attempt >= ATTEMPTS || !isTransient(e)) throw e;
        const retryAfter = Number((e as Stripe.errors.StripeError).headers?.['retry-after']);
        const wait = Math.min(MAX_WAIT_MS, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 200 * 2 ** (attempt - 1));
        this.logger.warn(`stripe ${what} failed (${(e as Error).message}); retry ${attempt}/${ATTEMPTS - 1} in ${wait} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}

/**
 * Worth retrying here: rate limits (the SDK leaves 429s to the caller) and an idempotent request still in flight.
 * 5xx answers and lost connections are already retried by the SDK (maxNetworkRetries, same idempotency key);
 * after that the job's own retry takes over.
 */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof Stripe.errors.StripeError)) return false;
  if (e instanceof Stripe.errors.StripeRateLimitError || e.statusCode === 429) return true;
  return e instanceof Stripe.errors.StripeIdempotencyError && e.statusCode === 409;
}

/** Stripe's answer to a meter event whose identifier it already has: that hour was delivered before. */
export function isDuplicateMeterEvent(e: unknown): boolean {
  return e instanceof Stripe.errors.StripeInvalidRequestError && /already exists with identifier/i.test(e.message);
}

export function isMissing(e: unknown): boolean {
  return e instanceof Stripe.errors.StripeInvalidRequestError && (e.statusCode === 404 || e.code === 'resource_missing');
}
