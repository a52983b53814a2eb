import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { KeyResolver } from '../key-resolver';
import { Admission } from './admission.service';
import { BodyReader } from './body-reader';
import { answerCors } from './edge-cors';
import { ErrorDialects } from './error-dialects';
import type { BodyRequest } from './json-body-parser';
import { RequestLog } from './request-log';
import { EdgeContext, EdgeMethod, MalformedPath, RouteMatch, RuntimeRegistry } from './runtime-registry';

/** Where a tenant request is addressed: `/p/:ref/:runtime/v1` and the rest of the path, before any `?`. */
interface TenantAddress {
  ref: string;
  runtime: string;
  /** After `/v1`: '' or starting with '/'. */
  path: string;
  query: string;
}

/**
 * The one implementation of tenant routes, `/p/:ref/<runtime>/v1/*`, for every runtime (rest, auth, storage,
 * functions, notifications). It sits in front of Nest's HTTP server as a plain request listener: Nest serves
 * `/v1`, `/healthz` and `/docs` alone, and no Nest guard, interceptor or middleware ever sees a tenant request
 * (measured: framework routing and its per-request pipeline were most of the data path's cost).
 *
 * Every tenant request takes these steps, in this order ({@link serve}):
 *  1. request id and log line (the app's pino logger and redaction; `x-request-id` honoured when sane);
 *  2. CORS (a preflight is answered here, without credentials);
 *  3. route: `/p/:ref/<runtime>/v1` + the runtime's registered routes ({@link RuntimeRegistry});
 *  4. key resolution ({@link KeyResolver}: the key, its origins, IPs, scopes, tables or buckets, an end-user token);
 *     an unknown runtime is 404 before the key, an unknown route of a known runtime 404 after it;
 *  5. admission ({@link Admission}: billing access, quotas, rate limits, metering);
 *  6. body reading, as the route asks (JSON, raw, or left to stream) — only now, so no one without a valid key makes
 *     the server read or wait for a body;
 *  7. the runtime's handler;
 *  8. any error rendered in the runtime's dialect ({@link ErrorDialects}), the edge's own errors included.
 */
@Injectable()
export class TenantEdge {
  private readonly log = new RequestLog();
  private readonly bodies: BodyReader;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly runtimes: RuntimeRegistry,
    private readonly keys: KeyResolver,
    private readonly admission: Admission,
    private readonly dialects: ErrorDialects,
  ) {
    this.bodies = new BodyReader(config.http.bodyLimitBytes);
  }

  /** Puts the edge in front of the server's request listeners (Nest's): it takes `/p/…`, they get the rest. It logs on `log`. */
  install(server: Server, log?: Logger): void {
    if (log) this.log.attach(log);
    const others = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (isTenantPath(req.url)) return this.serve(req, res);
      for (const listener of others) listener.call(server, req, res);
    });
  }

  /** Steps 1–3, then the rest of the request ({@link admitAndHandle}), whose errors are rendered (step 8). */
  serve(req: IncomingMessage, res: ServerResponse): void {
    this.log.start(req, res);
    const address = tenantAddress(req.url ?? '');
    if (answerCors(req, res, req.method === 'OPTIONS' && address !== undefined && this.route(address, 'OPTIONS') !== undefined)) return;
    const state = { bodyRead: false };
    this.admitAndHandle(req, res, address, state).catch((e: unknown) => {
      try {
        this.fail(req, res, address?.runtime, e, state.bodyRead);
      } catch {
        // Rendering failed too (a header value Node refuses): drop the connection rather than the process.
        res.destroy();
      }
    });
  }

  /** Steps 3–7. */
  private async admitAndHandle(req: IncomingMessage, res: ServerResponse, address: TenantAddress | undefined, state: { bodyRead: boolean }): Promise<void> {
    if (address === undefined) throw PlinthException.notFound('Route');
    const method = req.method ?? '';
    const match = this.route(address, method);
    const ip = clientIp(req, this.config.http.trustProxy);
    const keyless = match?.route.key === 'optional' && this.keys.presentedKey(req.headers) === null;
    const tenant = keyless
      ? await this.keys.keyless(address.ref, address.runtime)
      : await this.keys.tenant({ method, ip, headers: req.headers }, address.ref, address.runtime, match?.route.target?.(match.params));
    if (match === undefined) throw PlinthException.notFound('Route');

    const client = { method, ip, headers: req.headers, socket: req.socket };
    const pending = this.admission.admit(tenant, client, res);
    const decision = pending instanceof Promise ? await pending : pending;
    if (decision.refusal !== undefined) throw decision.refusal;

    // A streaming route reads its body itself: should it fail before the end, the body is still unread (see fail).
    state.bodyRead = match.route.body !== 'stream';
    const reading = this.bodies.read(req as BodyRequest, res, match.route.body);
    const body = reading === undefined ? undefined : await reading;

    const ctx: EdgeContext = { req, res, tenant, method: method as EdgeMethod, params: match.params, query: address.query, body, ip };
    await match.route.handler(ctx);
  }

  /** The addressed runtime's route, or undefined (a 404 once the key has been judged). */
  private route(address: TenantAddress, method: string): RouteMatch | undefined {
    try {
      return this.runtimes.match(address.runtime, method, address.path);
    } catch (e) {
      if (e instanceof MalformedPath) return undefined;
      throw e;
    }
  }

  /** Step 8: the error in the runtime's dialect; a request refused before its body was read closes its connection. */
  private fail(req: IncomingMessage, res: ServerResponse, runtime: string | undefined, e: unknown, bodyRead: boolean): void {
    const { status, body, headers } = this.dialects.render(runtime, e, { method: req.method, path: (req.url ?? '').split('?')[0] });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A body still arriving (perhaps trickled on purpose) then holds no socket; Node would read it to keep the connection.
    if (!bodyRead && !req.complete) res.setHeader('connection', 'close');
    for (const name in headers) res.setHeader(name, headers[name]);
    sendJson(res, status, body);
  }
}

/** `/p/…` (Express matched paths case-insensitively; the edge takes `/P/…` too, and answers it 404). */
function isTenantPath(url: string | undefined): boolean {
  return url !== undefined && url.length > 2 && url.charCodeAt(0) === 0x2f && (url.charCodeAt(1) | 0x20) === 0x70 && url.charCodeAt(2) === 0x2f;
}

/** `/p/:ref/:runtime/v1[/…][?…]`, or undefined for anything else under `/p/`. */
function tenantAddress(url: string): TenantAddress | undefined {
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  // ['', 'p', ref, runtime, 'v1', …]
  const refEnd = pathname.indexOf('/', 3);
  if (refEnd < 0 || pathname.slice(0, 3) !== '/p/') return undefined;
  const runtimeEnd = pathname.indexOf('/', refEnd + 1);
  if (runtimeEnd < 0) return undefined;
  const versionEnd = pathname.indexOf('/', runtimeEnd + 1);
  const version = pathname.slice(runtimeEnd + 1, versionEnd < 0 ? undefined : versionEnd);
  if (version !== 'v1') return undefined;
  const ref = pathname.slice(3, refEnd);
  const runtime = pathname.slice(refEnd + 1, runtimeEnd);
  if (!ref || !runtime) return undefined;
  return { ref, runtime, path: versionEnd < 0 ? '' : pathname.slice(versionEnd), query };
}

/**
 * The client's address as Express's `req.ip` gives it: with trust proxy on, the left-most X-Forwarded-For entry
 * (the original client, every hop trusted); otherwise, or without the header, the socket's address.
 */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const socket = req.socket?.remoteAddress ?? '';
  if (!trustProxy) return socket;
  const forwarded = req.headers['x-forwarded-for'];
  if (forwarded === undefined) return socket;
  const first = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',')[0].trim();
  return first || socket;
}

/** A JSON response as Express's `res.json` writes it. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  if (body === undefined) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
