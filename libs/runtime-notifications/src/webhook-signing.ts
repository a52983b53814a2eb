import { createHmac, randomBytes } from 'node:crypto';

/** A new endpoint secret in Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Standard Webhooks: the HMAC key is the base64 after `whsec_`. */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/**
 * The headers of a Standard Webhooks delivery: `webhook-id` (the same on every retry, for the receiver to
 * deduplicate), `webhook-timestamp` (seconds) and `webhook-signature`, `v1,<base64 HMAC-SHA256 of id.timestamp.body>`
 * per valid secret, space-separated (during a rotation's overlap both the new and the previous secret sign).
 */
export function signWebhook(secrets: string[], id: string, timestampSec: number, body: string): Record<string, string> {
  const signed = `${id}.${timestampSec}.${body}`;
  const signatures = secrets.map((s) => `v1,${createHmac('sha256', keyOf(s)).update(signed).digest('base64')}`);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSec), 'webhook-signature': signatures.join(' ') };
}

/**
 * When attempt n+1 follows a failed attempt n (n = 1…7): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts
 * over about 28 h, as Svix schedules Standard Webhooks retries — each with ±20 % jitter so a recovering endpoint
 * isn't hit by every retry at once. Undefined after the eighth: the delivery is dead.
 */
export const WEBHOOK_RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_MS.length + 1;

export function webhookRetryDelayMs(failedAttempt: number, random = Math.random()): number | undefined {
  const base = WEBHOOK_RETRY_DELAYS_MS[failedAttempt - 1];
  return base === undefined ? undefined : Math.round(base * (0.8 + random * 0.4));
}
