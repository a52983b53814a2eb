/**
 * A local server speaking enough of Stripe's v1 REST protocol for the real `stripe` SDK to run unmodified against
 * it (`new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })`): form-encoded requests, Stripe's JSON
 * object and error shapes, idempotency keys, list pagination and `expand[]`, signed webhooks, plus test controls
 * (fault injection, a request log, a movable clock, payment declines, renewal invoices).
 *
 * State lives in memory per instance. See README-style notes at `StripeTestServer` for what is modelled.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { FormObject, parseForm } from './form-encoding';
import { newId } from './ids';
import { mergeMetadata, Params } from './params';
import { StripeApiError, StripeErrorBody } from './stripe-api-error';
import { CreateInvoiceForSubscriptionOptions, StripeBackend, StoredMeterEvent, UsageQuery } from './stripe-backend';
import { CheckoutSessionObject, EventObject, InvoiceObject, ListObject, PendingInvoiceItem } from './stripe-objects';
import { SendOptions, WebhookDelivery, WebhookEndpoint, WebhookSender } from './webhook-sender';

export interface StripeTestServerOptions {
  /** Secret keys accepted in `Authorization`. Default: any `sk_test_…` or `rk_test_…` key. */
  apiKeys?: string[];
  /** Base clock (unix seconds); `advanceClock`/`setClock` apply on top. Default: the wall clock. */
  now?: () => number;
  /** Send webhooks as soon as events happen (default true). `holdWebhooks()` switches this off at run time. */
  autoDeliverWebhooks?: boolean;
  /** Timeout of one webhook POST (default 5000 ms). */
  webhookTimeoutMs?: number;
}

export interface FaultSpec {
  /** HTTP method to match (any when omitted). */
  method?: string;
  /** Exact request path (`/v1/billing/meter_events`) or a pattern. */
  path: string | RegExp;
  /**
   * Status to answer with. Default 500, unless only `delayMs`/`destroySocket` is given: a delay alone slows the
   * request down (it still executes, like a request the client times out on while Stripe completes it).
   */
  status?: number;
  /** How many matching requests to affect (default 1). */
  times?: number;
  /** Wait this long before answering (the request is marked in flight for idempotency meanwhile). */
  delayMs?: number;
  /** Override the error body (type/code/message). */
  error?: Partial<StripeErrorBody>;
  /** Extra response headers, e.g. `{ 'Stripe-Should-Retry': 'true' }`. */
  headers?: Record<string, string>;
  /** `Retry-After` seconds on 429 answers (default 1). */
  retryAfterSeconds?: number;
  /**
   * Execute the request first (side effects happen, the idempotent result is saved), then answer with the fault:
   * "Stripe accepted it but the response was lost".
   */
  afterExecution?: boolean;
  /** Drop the connection instead of answering (the SDK sees a connection error). */
  destroySocket?: boolean;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: FormObject;
  /** Parsed form body (POST) or query (GET/DELETE): the request's parameters. */
  body: FormObject;
  rawBody: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  idempotencyKey: string | null;
  requestId: string;
  /** 0 while in flight; also 0 when the connection was dropped by a fault. */
  status: number;
  response: unknown;
  faultInjected: boolean;
  idempotentReplay: boolean;
  receivedAt: number;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: (ctx: RouteContext) => object;
}

interface RouteContext {
  params: Record<string, string>;
  p: Params;
  path: string;
}

interface Outcome {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

interface IdempotencyRecord {
  method: string;
  path: string;
  fingerprint: string;
  requestId: string;
  createdAt: number;
  outcome: Outcome | null;
}

type ActiveFault = FaultSpec & { remaining: number };

const IDEMPOTENCY_TTL = 24 * 3600;

/**
 * Modelled: customers, products, prices (per-unit, tiered, metered with a meter, lookup keys), billing meters
 * and meter events (identifier de-duplication, aggregation sum/count/last, event summaries), subscriptions
 * (create with a first invoice, update with prorations, cancel), invoices (draft/finalize/pay/void, renewal via
 * `createInvoiceForSubscription`), Checkout Sessions, billing portal sessions, events and signed webhooks.
 */
export class StripeTestServer {
  private server: http.Server | null = null;
  private port = 0;
  private backend!: StripeBackend;
  private webhooks!: WebhookSender;
  private readonly sockets = new Set<import('node:net').Socket>();
  private routes: Route[] = [];
  private faults: ActiveFault[] = [];
  private idempotency = new Map<string, IdempotencyRecord>();
  private clockOffset = 0;
  private frozenAt: number | null = null;
  private autoDeliver: boolean;
  private held: EventObject[] = [];
  /** The API request being executed, so events can carry `request.id` / `request.idempotency_key` as in Stripe. */
  private currentRequest: { id: string; idempotencyKey: string | null } | null = null;
  private apiVersion: string | null = null;

  /** Every API request received, in arrival order. */
  requests: LoggedRequest[] = [];
  /** Every event emitted, oldest first. */
  events: EventObject[] = [];

  constructor(private readonly options: StripeTestServerOptions = {}) {
    this.autoDeliver = options.autoDeliverWebhooks ?? true;
    this.routes = this.buildRoutes();
    this.resetState();
  }

  // ================================================================ lifecycle

  async start(port = 0): Promise<{ port: number; url: string }> {
    if (this.server) return { port: this.port, url: this.url };
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        // A bug here must show up as a failed request in the test, not crash the test process.
        const message = e instanceof Error ? e.message : String(e);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `Stripe test server bug: ${message}` } }));
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return { port: this.port, url: this.url };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await this.webhooks.idle();
    // The SDK keeps connections alive; close them so `server.close` does not wait for their idle timeout.
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Options for `new Stripe(key, …)` pointing at this server. */
  stripeConfig(extra: Partial<Stripe.StripeConfig> = {}): Stripe.StripeConfig {
    return { host: '127.0.0.1', port: this.port, protocol: 'http', maxNetworkRetries: 0, ...extra };
  }

  /** Clears every object, event, log, fault, idempotency key and webhook endpoint; the clock is kept. */
  reset(): void {
    this.resetState();
  }

  private resetState(): void {
    this.backend = new StripeBackend({
      now: () => this.now(),
      emit: (type, object, previous) => this.emitInternal(type, object, previous),
      baseUrl: () => this.url,
    });
    this.webhooks = new WebhookSender(this.options.webhookTimeoutMs ?? 5000, (event, delivery) => {
      if (delivery.status !== null && delivery.status >= 200 && delivery.status < 300 && !delivery.tampered) {
        const stored = this.events.find((e) => e.id === event.id);
        if (stored && stored.pending_webhooks > 0) stored.pending_webhooks -= 1;
      }
    });
    this.faults = [];
    this.idempotency = new Map();
    this.requests = [];
    this.events = [];
    this.held = [];
    this.autoDeliver = this.options.autoDeliverWebhooks ?? true;
  }

  // ================================================================ clock

  /** The server's current time, unix seconds. */
  now(): number {
    const base = this.options.now ? this.options.now() : (this.frozenAt ?? Math.floor(Date.now() / 1000));
    return base + this.clockOffset;
  }

  /** Moves the server clock forward (meter windows, periods, idempotency expiry, `created`). */
  advanceClock(seconds: number): void {
    this.clockOffset += seconds;
  }

  /** Freezes the server clock at a unix time. */
  setClock(unixSeconds: number): void {
    this.frozenAt = unixSeconds;
    this.clockOffset = 0;
  }

  // ================================================================ fault injection & request log

  /** Makes the next matching request(s) fail, slow down or drop; returns the rule (its `remaining` counts down). */
  failNext(spec: FaultSpec): { remaining: number } {
    const fault: ActiveFault = { ...spec, remaining: spec.times ?? 1 };
    this.faults.push(fault);
    return fault;
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Logged requests matching a method and/or path (exact string or pattern). */
  requestsTo(filter: { method?: string; path?: string | RegExp } = {}): LoggedRequest[] {
    return this.requests.filter((r) => (!filter.method || r.method === filter.method.toUpperCase()) && (!filter.path || matchPath(filter.path, r.path)));
  }

  clearRequests(): void {
    this.requests = [];
  }

  // ================================================================ webhooks

  /** Registers an endpoint; the secret defaults to a fresh `whsec_…`. Returns the endpoint (with its secret). */
  addWebhookEndpoint(url: string, secret?: string, enabledEvents?: string[]): WebhookEndpoint {
    return this.webhooks.addEndpoint(url, secret, enabledEvents);
  }

  get webhookEndpoints(): readonly WebhookEndpoint[] {
    return this.webhooks.endpoints;
  }

  /** Every webhook POST made, in order. */
  get webhookDeliveries(): readonly WebhookDelivery[] {
    return this.webhooks.deliveries;
  }

  /** Emits an event as Stripe would (recorded in `/v1/events`, delivered to endpoints unless held). */
  emit(type: string, object: object, previousAttributes?: Record<string, unknown>): EventObject {
    return this.emitInternal(type, object, previousAttributes);
  }

  /** Stops automatic delivery: new events queue up until `releaseWebhooks`. */
  holdWebhooks(): void {
    this.autoDeliver = false;
  }

  /**
   * Delivers held events and resumes automatic delivery. `order` (event ids) chooses the delivery order; held
   * events not listed are sent afterwards in emission order. Resolves when delivered.
   */
  async releaseWebhooks(order?: string[]): Promise<WebhookDelivery[]> {
    const held = this.held;
    this.held = [];
    this.autoDeliver = true;
    const ordered = [...(order ?? []).map((id) => this.eventById(id)), ...held.filter((e) => !order?.includes(e.id))];
    const out: WebhookDelivery[] = [];
    for (const event of ordered) out.push(...(await this.webhooks.enqueue(event)));
    return out;
  }

  /** Events emitted while webhooks are held. */
  get heldEvents(): readonly EventObject[] {
    return this.held;
  }

  /** Sends existing events (by id) in exactly this order, now; e.g. `[updated.id, created.id]` for reordering. */
  async deliverEvents(eventIds: string[], opts: SendOptions = {}): Promise<WebhookDelivery[]> {
    const out: WebhookDelivery[] = [];
    for (const id of eventIds) out.push(...(await this.webhooks.enqueue(this.eventById(id), opts)));
    return out;
  }

  /**
   * Sends one existing event again: a duplicate delivery (same event id), or with `opts` a tampered body, an old
   * signature timestamp (`timestamp: now - 600`) or a wrong secret.
   */
  async resendEvent(eventId: string, opts: SendOptions = {}): Promise<WebhookDelivery[]> {
    return this.webhooks.enqueue(this.eventById(eventId), opts);
  }

  /** Resolves once every queued webhook delivery has completed. */
  async waitForWebhooks(): Promise<void> {
    await this.webhooks.idle();
  }

  /** The newest event of a type (for assertions and for `resendEvent`). */
  lastEvent(type?: string): EventObject | undefined {
    return [...this.events].reverse().find((e) => !type || e.type === type);
  }

  private eventById(id: string): EventObject {
    const event = this.events.find((e) => e.id === id);
    if (!event) throw new Error(`No such event: ${id}`);
    return event;
  }

  private emitInternal(type: string, object: object, previousAttributes?: Record<string, unknown>): EventObject {
    const event: EventObject = {
      id: newId('evt', 24),
      object: 'event',
      api_version: this.apiVersion ?? Stripe.API_VERSION,
      created: this.now(),
      data: {
        object: this.serialize(object, []) as object,
        ...(previousAttributes && Object.keys(previousAttributes).length > 0 ? { previous_attributes: this.serialize(previousAttributes, []) as Record<string, unknown> } : {}),
      },
      livemode: false,
      pending_webhooks: this.webhooks.endpointsFor(type).length,
      request: this.currentRequest ? { id: this.currentRequest.id, idempotency_key: this.currentRequest.idempotencyKey } : { id: null, idempotency_key: null },
      type,
    };
    this.events.push(event);
    if (this.webhooks.endpointsFor(type).length > 0) {
      if (this.autoDeliver) void this.webhooks.enqueue(event);
      else this.held.push(event);
    }
    return event;
  }

  // ================================================================ test helpers over the billing state

  /** Aggregated, billable usage of a meter for a customer over [start, end) (Stripe's meter formula applied). */
  getMeterUsage(meterId: string, customerId: string, range: UsageQuery = {}): number {
    return this.backend.meterUsage(meterId, customerId, range);
  }

  /** Every meter event accepted by the API, including ones processing rejected (`error` set, not counted). */
  get meterEvents(): readonly StoredMeterEvent[] {
    return this.backend.meterEvents;
  }

  /** Stand-in for the renewal at period end; see `StripeBackend.createInvoiceForSubscription`. */
  createInvoiceForSubscription(subscriptionId: string, opts: CreateInvoiceForSubscriptionOptions = {}): InvoiceObject {
    return this.asHelper(() => clone(this.backend.createInvoiceForSubscription(subscriptionId, opts)));
  }

  /** One automatic payment attempt on an open invoice (Smart Retries); false when declined. */
  attemptInvoicePayment(invoiceId: string): boolean {
    return this.asHelper(() => this.backend.attemptPayment(this.backend.invoice(invoiceId)));
  }

  /** Declines (or stops declining) every payment of a customer: `invoice.payment_failed`, 402 on `/pay`. */
  declinePaymentsFor(customerId: string, decline = true): void {
    if (decline) this.backend.decliningCustomers.add(customerId);
    else this.backend.decliningCustomers.delete(customerId);
  }

  /** The customer finishing a Checkout Session; emits `checkout.session.completed`. */
  completeCheckoutSession(sessionId: string, opts: { paymentMethodId?: string } = {}): CheckoutSessionObject {
    return this.asHelper(() => clone(this.backend.completeCheckoutSession(sessionId, opts)));
  }

  /** Payment methods attached to a customer (by Checkout setup sessions or `payment_method` on create). */
  paymentMethodsOf(customerId: string): string[] {
    return [...(this.backend.paymentMethods.get(customerId) ?? [])];
  }

  /** Prorations and other invoice items waiting for the next invoice. */
  pendingInvoiceItems(customerId?: string): PendingInvoiceItem[] {
    return clone(this.backend.pendingInvoiceItems(customerId));
  }

  /** Sets a subscription's status directly (e.g. `unpaid` after retries are exhausted); emits the update. */
  setSubscriptionStatus(subscriptionId: string, status: 'active' | 'past_due' | 'unpaid' | 'canceled' | 'incomplete' | 'paused'): void {
    this.asHelper(() => this.backend.setSubscriptionStatus(this.backend.subscription(subscriptionId), status));
  }

  /** Runs a helper outside any API request (its events get `request.id: null`) and turns API errors into Errors. */
  private asHelper<T>(fn: () => T): T {
    const saved = this.currentRequest;
    this.currentRequest = null;
    try {
      return fn();
    } catch (e) {
      if (e instanceof StripeApiError) throw new Error(`${e.status} ${e.body.type}: ${e.body.message}`);
      throw e;
    } finally {
      this.currentRequest = saved;
    }
  }

  // ================================================================ HTTP handling

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    let query: FormObject;
    let body: FormObject;
    try {
      query = parseForm(url.search.slice(1));
      // The SDK sends GET/DELETE parameters in the query string and POST parameters in the body.
      body = method === 'POST' ? { ...query, ...parseForm(rawBody) } : query;
    } catch {
      const requestId = newId('req', 14);
      this.send(res, errorOutcome(StripeApiError.invalid('Invalid request: the body or query string is not valid form encoding.')), { requestId, headers, idempotencyKey: null });
      return;
    }
    const idempotencyKey = method === 'POST' ? (headers['idempotency-key'] ?? null) : null;
    const entry: LoggedRequest = {
      method,
      path: url.pathname,
      query,
      body,
      rawBody,
      headers,
      idempotencyKey,
      requestId: newId('req', 14),
      status: 0,
      response: undefined,
      faultInjected: false,
      idempotentReplay: false,
      receivedAt: Date.now(),
    };
    this.requests.push(entry);

    const fault = this.takeFault(method, url.pathname);
    const faultStatus = fault ? (fault.status ?? (fault.delayMs !== undefined || fault.destroySocket ? undefined : 500)) : undefined;
    const failing = fault !== undefined && (faultStatus !== undefined || fault.destroySocket === true);

    if (fault && failing && !fault.afterExecution) {
      if (fault.delayMs) await sleep(fault.delayMs);
      this.respondFault(res, entry, fault, faultStatus);
      return;
    }
    const outcome = await this.process(entry, fault && !failing ? fault.delayMs : undefined);
    if (fault && failing && fault.afterExecution) {
      if (fault.delayMs) await sleep(fault.delayMs);
      this.respondFault(res, entry, fault, faultStatus);
      return;
    }
    entry.status = outcome.status;
    entry.response = outcome.body;
    this.send(res, outcome, entry);
  }

  private takeFault(method: string, path: string): ActiveFault | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.method || f.method.toUpperCase() === method) && matchPath(f.path, path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault;
  }

  private respondFault(res: http.ServerResponse, entry: LoggedRequest, fault: ActiveFault, status: number | undefined): void {
    entry.faultInjected = true;
    if (fault.destroySocket || status === undefined) {
      res.socket?.destroy();
      return;
    }
    const defaults: StripeErrorBody =
      status === 429
        ? { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.' }
        : status >= 500
          ? { type: 'api_error', message: 'An unknown error occurred (injected by the Stripe test server).' }
          : { type: 'invalid_request_error', message: 'Injected failure.' };
    const headers: Record<string, string> = { ...(status === 429 ? { 'Retry-After': String(fault.retryAfterSeconds ?? 1) } : {}), ...fault.headers };
    const outcome: Outcome = { status, body: { error: { ...defaults, ...fault.error } }, headers };
    entry.status = status;
    entry.response = outcome.body;
    this.send(res, outcome, entry);
  }

  private send(res: http.ServerResponse, outcome: Outcome, entry: Pick<LoggedRequest, 'requestId' | 'headers' | 'idempotencyKey'>): void {
    if (res.destroyed || res.writableEnded) return;
    const json = JSON.stringify(outcome.body, null, 2);
    res.writeHead(outcome.status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(json),
      'Request-Id': entry.requestId,
      'Stripe-Version': entry.headers['stripe-version'] ?? Stripe.API_VERSION,
      ...(entry.idempotencyKey ? { 'Idempotency-Key': entry.idempotencyKey } : {}),
      ...outcome.headers,
    });
    res.end(json);
  }

  /** Authentication, routing, idempotency and execution of one API request. */
  private async process(entry: LoggedRequest, delayMs: number | undefined): Promise<Outcome> {
    const authError = this.authenticate(entry.headers['authorization']);
    if (authError) return errorOutcome(authError);

    const match = this.matchRoute(entry.method, entry.path);
    if (!match) {
      return errorOutcome(
        new StripeApiError(404, {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${entry.method}: ${entry.path}). The local Stripe test server does not implement this endpoint.`,
        }),
      );
    }

    const key = entry.idempotencyKey;
    if (key) {
      const record = this.idempotency.get(key);
      if (record && this.now() - record.createdAt < IDEMPOTENCY_TTL) {
        if (record.method !== entry.method || record.path !== entry.path) {
          return errorOutcome(
            new StripeApiError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${record.method} ${record.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          );
        }
        if (record.fingerprint !== fingerprint(entry.body)) {
          return errorOutcome(
            new StripeApiError(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            }),
          );
        }
        if (!record.outcome) {
          return errorOutcome(
            new StripeApiError(409, {
              type: 'idempotency_error',
              message: `There is currently another in-progress request using this idempotency key ('${key}'). Please try again later.`,
            }),
          );
        }
        entry.idempotentReplay = true;
        return { ...record.outcome, headers: { ...record.outcome.headers, 'Idempotent-Replayed': 'true', 'Original-Request': record.requestId } };
      }
      this.idempotency.set(key, { method: entry.method, path: entry.path, fingerprint: fingerprint(entry.body), requestId: entry.requestId, createdAt: this.now(), outcome: null });
    }

    if (delayMs) await sleep(delayMs);
    const outcome = this.execute(match.route, match.params, entry);

    if (key) {
      // Stripe saves the result once the endpoint started executing, errors included; parameter validation
      // failures are not saved, so a corrected retry with the same key can still go through.
      const code = (outcome.body as { error?: { code?: string } }).error?.code;
      const record = this.idempotency.get(key);
      if (code?.startsWith('parameter_')) this.idempotency.delete(key);
      else if (record) record.outcome = outcome;
    }
    return outcome;
  }

  private execute(route: Route, params: Record<string, string>, entry: LoggedRequest): Outcome {
    this.currentRequest = { id: entry.requestId, idempotencyKey: entry.idempotencyKey };
    this.apiVersion = entry.headers['stripe-version'] ?? null;
    try {
      const p = new Params(entry.body);
      const expand = p.strings('expand') ?? [];
      const result = route.handler({ params, p, path: entry.path });
      return { status: 200, body: this.serialize(result, expand), headers: {} };
    } catch (e) {
      if (e instanceof StripeApiError) return errorOutcome(e);
      const message = e instanceof Error ? e.message : String(e);
      return { status: 500, body: { error: { type: 'api_error', message: `Stripe test server bug: ${message}` } }, headers: {} };
    } finally {
      this.currentRequest = null;
      this.apiVersion = null;
    }
  }

  private authenticate(header: string | undefined): StripeApiError | null {
    if (!header) {
      return new StripeApiError(401, {
        type: 'invalid_request_error',
        message: 'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').',
      });
    }
    let key = '';
    if (header.startsWith('Bearer ')) key = header.slice('Bearer '.length).trim();
    else if (header.startsWith('Basic ')) key = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8').split(':')[0] ?? '';
    const valid = this.options.apiKeys ? this.options.apiKeys.includes(key) : /^(sk|rk)_test_\w+$/.test(key);
    if (!valid) {
      const masked = key.length > 4 ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : key;
      return new StripeApiError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` });
    }
    return null;
  }

  private matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
    }
    return undefined;
  }

  /**
   * The JSON a response carries: a deep copy (later state changes must not alter what a client already got),
   * with `expand[]` paths replaced by the objects they name, and price `tiers` left out unless expanded, as in
   * Stripe.
   */
  private serialize(value: unknown, expand: string[]): unknown {
    const copy = clone(value);
    for (const path of expand) {
      const segments = path.split('.');
      if (segments[segments.length - 1] === 'tiers') continue;
      this.expandPath(copy, segments, path);
    }
    const keepTiers = expand.some((p) => p === 'tiers' || p.endsWith('.tiers'));
    if (!keepTiers) stripTiers(copy);
    return copy;
  }

  private expandPath(target: unknown, segments: string[], fullPath: string): void {
    if (segments.length === 0 || target === null || typeof target !== 'object') return;
    if (Array.isArray(target)) {
      for (const t of target) this.expandPath(t, segments, fullPath);
      return;
    }
    const record = target as Record<string, unknown>;
    const [head, ...rest] = segments;
    if (head === undefined) return;
    let value = record[head];
    if (typeof value === 'string') {
      const found = this.backend.findById(value);
      if (!found) throw StripeApiError.invalid(`This property cannot be expanded (${fullPath}).`, 'expand');
      value = clone(found);
      record[head] = value;
    } else if (value === undefined) {
      throw StripeApiError.invalid(`This property cannot be expanded (${fullPath}).`, 'expand');
    }
    this.expandPath(value, rest, fullPath);
  }

  // ================================================================ routes

  private buildRoutes(): Route[] {
    const routes: Route[] = [];
    const add = (method: string, template: string, handler: (ctx: RouteContext) => object): void => {
      const keys: string[] = [];
      const pattern = new RegExp(
        '^' +
          template.replace(/:(\w+)/g, (_, k: string) => {
            keys.push(k);
            return '([^/]+)';
          }) +
          '$',
      );
      routes.push({ method, pattern, keys, handler });
    };
    const b = (): StripeBackend => this.backend;
    const retrieveOnly = (p: Params): void => void p.allowOnly(['expand']);
    const id = (ctx: RouteContext): string => ctx.params['id'] ?? '';

    // -------- customers
    add('POST', '/v1/customers', ({ p }) => b().createCustomer(p));
    add('GET', '/v1/customers', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'email', 'created']);
      const email = ctx.p.string('email');
      return this.paginate([...b().customers.values()].filter((c) => email === undefined || c.email === email).filter(createdFilter(ctx.p)), ctx.p, ctx.path);
    });
    add('GET', '/v1/customers/:id', (ctx) => {
      retrieveOnly(ctx.p);
      // Stripe answers a deleted customer's id with a `deleted: true` stub, not a 404.
      if (b().deletedCustomers.has(id(ctx))) return { id: id(ctx), object: 'customer', deleted: true };
      return b().customer(id(ctx));
    });
    add('POST', '/v1/customers/:id', (ctx) => b().updateCustomer(id(ctx), ctx.p));
    add('DELETE', '/v1/customers/:id', (ctx) => b().deleteCustomer(id(ctx)));

    // -------- products
    add('POST', '/v1/products', ({ p }) => b().createProduct(p));
    add('GET', '/v1/products', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'active', 'ids', 'created']);
      const active = ctx.p.boolean('active');
      const ids = ctx.p.strings('ids');
      return this.paginate(
        [...b().products.values()].filter((x) => (active === undefined || x.active === active) && (!ids || ids.includes(x.id))).filter(createdFilter(ctx.p)),
        ctx.p,
        ctx.path,
      );
    });
    add('GET', '/v1/products/:id', (ctx) => (retrieveOnly(ctx.p), b().product(id(ctx))));
    add('POST', '/v1/products/:id', (ctx) => {
      ctx.p.allowOnly(['name', 'active', 'description', 'metadata', 'default_price', 'expand']);
      const product = b().product(id(ctx));
      const previous: Record<string, unknown> = {};
      change(product, 'name', ctx.p.string('name'), previous);
      change(product, 'active', ctx.p.boolean('active'), previous);
      change(product, 'description', ctx.p.nullableString('description'), previous);
      const defaultPrice = ctx.p.string('default_price');
      change(product, 'default_price', defaultPrice === undefined ? undefined : b().price(defaultPrice, 'default_price').id, previous);
      change(product, 'metadata', ctx.p.has('metadata') ? mergeMetadata(product.metadata, ctx.p.metadata()) : undefined, previous);
      if (Object.keys(previous).length > 0) {
        product.updated = this.now();
        this.emitInternal('product.updated', product, previous);
      }
      return product;
    });

    // -------- prices
    add('POST', '/v1/prices', ({ p }) => b().createPrice(p));
    add('GET', '/v1/prices', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'active', 'product', 'lookup_keys', 'type', 'currency', 'recurring', 'created']);
      const active = ctx.p.boolean('active');
      const product = ctx.p.string('product');
      const lookupKeys = ctx.p.strings('lookup_keys');
      const type = ctx.p.enumOf('type', ['one_time', 'recurring'] as const);
      const currency = ctx.p.string('currency');
      const recurring = ctx.p.object('recurring')?.allowOnly(['interval', 'usage_type', 'meter']);
      return this.paginate(
        [...b().prices.values()]
          .filter((x) => active === undefined || x.active === active)
          .filter((x) => !product || x.product === product)
          .filter((x) => !lookupKeys || (x.lookup_key !== null && lookupKeys.includes(x.lookup_key)))
          .filter((x) => !type || x.type === type)
          .filter((x) => !currency || x.currency === currency.toLowerCase())
          .filter((x) => !recurring?.string('interval') || x.recurring?.interval === recurring.string('interval'))
          .filter((x) => !recurring?.string('usage_type') || x.recurring?.usage_type === recurring.string('usage_type'))
          .filter((x) => !recurring?.string('meter') || x.recurring?.meter === recurring.string('meter'))
          .filter(createdFilter(ctx.p)),
        ctx.p,
        ctx.path,
      );
    });
    add('GET', '/v1/prices/:id', (ctx) => (retrieveOnly(ctx.p), b().price(id(ctx), 'price')));
    add('POST', '/v1/prices/:id', (ctx) => {
      ctx.p.allowOnly(['active', 'metadata', 'nickname', 'lookup_key', 'transfer_lookup_key', 'expand']);
      const price = b().price(id(ctx), 'price');
      const previous: Record<string, unknown> = {};
      change(price, 'active', ctx.p.boolean('active'), previous);
      change(price, 'nickname', ctx.p.nullableString('nickname'), previous);
      const lookupKey = ctx.p.nullableString('lookup_key');
      if (lookupKey !== undefined) {
        const holder = lookupKey ? [...b().prices.values()].find((x) => x.lookup_key === lookupKey && x.id !== price.id) : undefined;
        if (holder && !ctx.p.boolean('transfer_lookup_key')) throw StripeApiError.invalid(`A price (\`${holder.id}\`) already uses that lookup key.`, 'lookup_key');
        if (holder) holder.lookup_key = null;
        change(price, 'lookup_key', lookupKey, previous);
      }
      change(price, 'metadata', ctx.p.has('metadata') ? mergeMetadata(price.metadata, ctx.p.metadata()) : undefined, previous);
      if (Object.keys(previous).length > 0) this.emitInternal('price.updated', price, previous);
      return price;
    });

    // -------- billing meters & meter events
    add('POST', '/v1/billing/meters', ({ p }) => b().createMeter(p));
    add('GET', '/v1/billing/meters', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'status']);
      const status = ctx.p.enumOf('status', ['active', 'inactive'] as const);
      return this.paginate([...b().meters.values()].filter((m) => !status || m.status === status), ctx.p, ctx.path);
    });
    add('GET', '/v1/billing/meters/:id', (ctx) => (retrieveOnly(ctx.p), b().meter(id(ctx))));
    add('POST', '/v1/billing/meters/:id', (ctx) => {
      // Stripe: "Meters are immutable, with the exception of the display name."
      ctx.p.allowOnly(['display_name', 'expand']);
      const meter = b().meter(id(ctx));
      const displayName = ctx.p.string('display_name');
      if (displayName !== undefined && displayName !== meter.display_name) {
        const previous = { display_name: meter.display_name };
        meter.display_name = displayName;
        meter.updated = this.now();
        this.emitInternal('billing.meter.updated', meter, previous);
      }
      return meter;
    });
    add('POST', '/v1/billing/meters/:id/deactivate', (ctx) => (retrieveOnly(ctx.p), b().setMeterActive(id(ctx), false)));
    add('POST', '/v1/billing/meters/:id/reactivate', (ctx) => (retrieveOnly(ctx.p), b().setMeterActive(id(ctx), true)));
    add('GET', '/v1/billing/meters/:id/event_summaries', (ctx) => this.paginate(b().meterEventSummaries(id(ctx), ctx.p), ctx.p, ctx.path, { newestFirst: false }));
    add('POST', '/v1/billing/meter_events', ({ p }) => b().createMeterEvent(p));

    // -------- subscriptions
    add('POST', '/v1/subscriptions', ({ p }) => b().createSubscription(p));
    add('GET', '/v1/subscriptions', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'customer', 'price', 'status', 'created']);
      const customer = ctx.p.string('customer');
      const price = ctx.p.string('price');
      const status = ctx.p.string('status');
      return this.paginate(
        [...b().subscriptions.values()]
          .filter((s) => !customer || s.customer === customer)
          .filter((s) => !price || s.items.data.some((i) => i.price.id === price))
          // Stripe lists non-canceled subscriptions unless `status` says otherwise (`all` for every status).
          .filter((s) => (status === 'all' ? true : status ? s.status === status : s.status !== 'canceled'))
          .filter(createdFilter(ctx.p)),
        ctx.p,
        ctx.path,
      );
    });
    add('GET', '/v1/subscriptions/:id', (ctx) => (retrieveOnly(ctx.p), b().subscription(id(ctx))));
    add('POST', '/v1/subscriptions/:id', (ctx) => b().updateSubscription(id(ctx), ctx.p));
    add('DELETE', '/v1/subscriptions/:id', (ctx) => b().cancelSubscription(id(ctx), ctx.p));

    // -------- invoices
    add('POST', '/v1/invoices', ({ p }) => b().createInvoice(p));
    add('GET', '/v1/invoices', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'customer', 'subscription', 'status', 'collection_method', 'created']);
      const customer = ctx.p.string('customer');
      const subscription = ctx.p.string('subscription');
      const status = ctx.p.string('status');
      return this.paginate(
        [...b().invoices.values()]
          .filter((i) => !customer || i.customer === customer)
          .filter((i) => !subscription || i.parent?.subscription_details.subscription === subscription)
          .filter((i) => !status || i.status === status)
          .filter(createdFilter(ctx.p)),
        ctx.p,
        ctx.path,
      );
    });
    add('GET', '/v1/invoices/:id', (ctx) => (retrieveOnly(ctx.p), this.invoiceView(b().invoice(id(ctx)))));
    add('GET', '/v1/invoices/:id/lines', (ctx) => {
      ctx.p.allowOnly(LIST_PARAMS);
      return this.paginate(b().invoice(id(ctx)).lines.data, ctx.p, ctx.path, { newestFirst: false });
    });
    add('POST', '/v1/invoices/:id/finalize', (ctx) => this.invoiceView(b().finalizeInvoice(id(ctx), ctx.p)));
    add('POST', '/v1/invoices/:id/pay', (ctx) => this.invoiceView(b().payInvoice(id(ctx), ctx.p)));
    add('POST', '/v1/invoices/:id/void', (ctx) => (retrieveOnly(ctx.p), this.invoiceView(b().voidInvoice(id(ctx)))));

    // -------- checkout & billing portal
    add('POST', '/v1/checkout/sessions', ({ p }) => b().createCheckoutSession(p));
    add('GET', '/v1/checkout/sessions', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'customer', 'status', 'subscription']);
      const customer = ctx.p.string('customer');
      const status = ctx.p.string('status');
      return this.paginate([...b().checkoutSessions.values()].filter((s) => (!customer || s.customer === customer) && (!status || s.status === status)), ctx.p, ctx.path);
    });
    add('GET', '/v1/checkout/sessions/:id', (ctx) => {
      retrieveOnly(ctx.p);
      const session = b().checkoutSessions.get(id(ctx));
      if (!session) throw StripeApiError.missing('checkout.session', id(ctx));
      return session;
    });
    add('POST', '/v1/billing_portal/sessions', ({ p }) => b().createPortalSession(p));

    // -------- events
    add('GET', '/v1/events', (ctx) => {
      ctx.p.allowOnly([...LIST_PARAMS, 'type', 'types', 'created', 'delivery_success']);
      const type = ctx.p.string('type');
      const types = ctx.p.strings('types');
      const typeMatches = (t: string, pattern: string): boolean => pattern === t || (pattern.endsWith('*') && t.startsWith(pattern.slice(0, -1)));
      return this.paginate(
        this.events.filter((e) => (!type || typeMatches(e.type, type)) && (!types || types.includes(e.type))).filter(createdFilter(ctx.p)),
        ctx.p,
        ctx.path,
      );
    });
    add('GET', '/v1/events/:id', (ctx) => {
      retrieveOnly(ctx.p);
      const event = this.events.find((e) => e.id === id(ctx));
      if (!event) throw StripeApiError.missing('event', id(ctx));
      return event;
    });
    return routes;
  }

  /** Stripe embeds at most the first 10 lines in an invoice (`lines.has_more` tells there are more). */
  private invoiceView(invoice: InvoiceObject): InvoiceObject {
    const data = invoice.lines.data;
    return { ...invoice, lines: { ...invoice.lines, data: data.slice(0, 10), has_more: data.length > 10 } };
  }

  /**
   * Stripe list semantics: newest first; `limit` 1–100 (default 10); `starting_after` continues after an id
   * (older objects), `ending_before` returns the page just before an id (newer objects).
   */
  private paginate<T extends { id: string }>(itemsOldestFirst: T[], p: Params, url: string, opts: { newestFirst?: boolean } = {}): ListObject<T> {
    const limit = p.integer('limit') ?? 10;
    if (limit < 1 || limit > 100) throw StripeApiError.invalid('Invalid integer: limit must be between 1 and 100', 'limit', 'parameter_invalid_integer');
    const ordered = opts.newestFirst === false ? itemsOldestFirst : [...itemsOldestFirst].reverse();
    const startingAfter = p.string('starting_after');
    const endingBefore = p.string('ending_before');
    let page: T[];
    let hasMore: boolean;
    if (startingAfter) {
      const index = ordered.findIndex((x) => x.id === startingAfter);
      if (index === -1) throw StripeApiError.missing('object', startingAfter, 'starting_after');
      const rest = ordered.slice(index + 1);
      page = rest.slice(0, limit);
      hasMore = rest.length > limit;
    } else if (endingBefore) {
      const index = ordered.findIndex((x) => x.id === endingBefore);
      if (index === -1) throw StripeApiError.missing('object', endingBefore, 'ending_before');
      const before = ordered.slice(0, index);
      page = before.slice(Math.max(0, before.length - limit));
      hasMore = before.length > limit;
    } else {
      page = ordered.slice(0, limit);
      hasMore = ordered.length > limit;
    }
    return { object: 'list', data: page, has_more: hasMore, url };
  }
}

// ================================================================ helpers

const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'expand'];

function createdFilter(p: Params): (x: { created: number }) => boolean {
  const exact = p.has('created') && typeof p.raw['created'] === 'string' ? p.integer('created') : undefined;
  const range = exact === undefined ? p.object('created')?.allowOnly(['gt', 'gte', 'lt', 'lte']) : undefined;
  const gt = range?.integer('gt');
  const gte = range?.integer('gte');
  const lt = range?.integer('lt');
  const lte = range?.integer('lte');
  return (x) =>
    (exact === undefined || x.created === exact) &&
    (gt === undefined || x.created > gt) &&
    (gte === undefined || x.created >= gte) &&
    (lt === undefined || x.created < lt) &&
    (lte === undefined || x.created <= lte);
}

/** Sets `target[key]` when a new, different value was given, remembering the old one for `previous_attributes`. */
function change<T extends object, K extends keyof T & string>(target: T, key: K, value: T[K] | undefined, previous: Record<string, unknown>): void {
  if (value === undefined || JSON.stringify(value) === JSON.stringify(target[key])) return;
  previous[key] = clone(target[key]);
  target[key] = value;
}

function errorOutcome(e: StripeApiError): Outcome {
  return { status: e.status, body: { error: e.body }, headers: e.headers };
}

function matchPath(filter: string | RegExp, path: string): boolean {
  return typeof filter === 'string' ? filter === path : filter.test(path);
}

/** Canonical JSON (sorted keys) of the parameters, to tell "same request" from "different parameters". */
function fingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canonical(value));
}

function stripTiers(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) stripTiers(v);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  if (record['object'] === 'price') delete record['tiers'];
  for (const v of Object.values(record)) stripTiers(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
