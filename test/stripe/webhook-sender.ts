import http from 'node:http';
import https from 'node:https';
import { newId } from './ids';
import { EventObject } from './stripe-objects';
import { signatureHeader } from './webhook-signing';

export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
  /** Event types to send; `*` means all (Stripe's `enabled_events`). */
  enabledEvents: string[];
}

export interface WebhookDelivery {
  eventId: string;
  type: string;
  endpointId: string;
  url: string;
  /** The exact body sent (what the receiver must verify against). */
  payload: string;
  signatureHeader: string;
  timestamp: number;
  /** HTTP status of the endpoint's answer; null when the request failed (see `error`). */
  status: number | null;
  responseBody: string;
  error: string | null;
  tampered: boolean;
  sentAt: number;
}

export interface SendOptions {
  /** Signature timestamp (unix seconds); e.g. `now - 600` for a delivery older than the 300 s tolerance. */
  timestamp?: number;
  /**
   * Change the body after signing, as an attacker would: `true` adds a field, or pass a function of the signed
   * payload returning the body to send. The signature stays the one of the original payload.
   */
  tamper?: boolean | ((payload: string) => string);
  /** Sign with another secret (e.g. a rotated-out one). */
  secret?: string;
  /** Only these endpoints (default: every endpoint subscribed to the event type). */
  endpointIds?: string[];
}

/** Stripe sends events as pretty-printed JSON with two-space indentation. */
export function serializeEvent(event: EventObject): string {
  return JSON.stringify(event, null, 2);
}

export class WebhookSender {
  readonly endpoints: WebhookEndpoint[] = [];
  readonly deliveries: WebhookDelivery[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private inFlight = 0;

  constructor(
    private readonly timeoutMs: number,
    private readonly onDelivered: (event: EventObject, delivery: WebhookDelivery) => void,
  ) {}

  addEndpoint(url: string, secret: string = newId('whsec', 32), enabledEvents: string[] = ['*']): WebhookEndpoint {
    const endpoint: WebhookEndpoint = { id: newId('we', 24), url, secret, enabledEvents };
    this.endpoints.push(endpoint);
    return endpoint;
  }

  endpointsFor(type: string, ids?: string[]): WebhookEndpoint[] {
    return this.endpoints.filter(
      (e) => (!ids || ids.includes(e.id)) && e.enabledEvents.some((pattern) => pattern === '*' || pattern === type || (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1)))),
    );
  }

  /** Queues a delivery after every earlier one, so endpoints see events in the order they were emitted. */
  enqueue(event: EventObject, opts: SendOptions = {}): Promise<WebhookDelivery[]> {
    const next = this.queue.then(() => this.send(event, opts));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every queued and in-flight delivery has finished. */
  async idle(): Promise<void> {
    let current: Promise<unknown>;
    do {
      current = this.queue;
      await current;
    } while (current !== this.queue || this.inFlight > 0);
  }

  /** Sends one event to its endpoints now (not queued), one POST per endpoint. */
  async send(event: EventObject, opts: SendOptions = {}): Promise<WebhookDelivery[]> {
    const results: WebhookDelivery[] = [];
    for (const endpoint of this.endpointsFor(event.type, opts.endpointIds)) {
      const signed = serializeEvent(event);
      const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
      const header = signatureHeader(signed, opts.secret ?? endpoint.secret, timestamp);
      let body = signed;
      if (opts.tamper === true) body = serializeEvent({ ...event, data: { ...event.data, tampered: true } } as EventObject);
      else if (typeof opts.tamper === 'function') body = opts.tamper(signed);
      this.inFlight += 1;
      try {
        const { status, responseBody, error } = await this.post(endpoint.url, body, header);
        const delivery: WebhookDelivery = {
          eventId: event.id,
          type: event.type,
          endpointId: endpoint.id,
          url: endpoint.url,
          payload: body,
          signatureHeader: header,
          timestamp,
          status,
          responseBody,
          error,
          tampered: body !== signed,
          sentAt: Date.now(),
        };
        this.deliveries.push(delivery);
        this.onDelivered(event, delivery);
        results.push(delivery);
      } finally {
        this.inFlight -= 1;
      }
    }
    return results;
  }

  private post(url: string, body: string, signature: string): Promise<{ status: number | null; responseBody: string; error: string | null }> {
    return new Promise((resolve) => {
      const target = new URL(url);
      const client = target.protocol === 'https:' ? https : http;
      const req = client.request(
        target,
        {
          method: 'POST',
          // A fresh connection per delivery: no keep-alive sockets left behind to hold test runners open.
          agent: false,
          timeout: this.timeoutMs,
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'Stripe-Signature': signature,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? null, responseBody: Buffer.concat(chunks).toString('utf8'), error: null }));
          res.on('error', (e) => resolve({ status: res.statusCode ?? null, responseBody: '', error: e.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`webhook delivery timed out after ${this.timeoutMs} ms`)));
      req.on('error', (e) => resolve({ status: null, responseBody: '', error: e.message }));
      req.end(body);
    });
  }
}
