import { createHmac } from 'node:crypto';

/**
 * Stripe's webhook signature scheme v1 (the one `stripe.webhooks.constructEvent` checks):
 *   signed_payload = `${t}.${rawBody}`; v1 = hex(HMAC-SHA256(key = endpoint secret `whsec_...`, signed_payload));
 *   header `Stripe-Signature: t=<unix seconds>,v1=<hex>`.
 * Same computation as stripe-node's `NodeCryptoProvider.computeHMACSignature` and stripe-ruby's `compute_signature`.
 */
export function computeSignature(payload: string, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

export function signatureHeader(payload: string, secret: string, timestamp: number = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${computeSignature(payload, secret, timestamp)}`;
}
