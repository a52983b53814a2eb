import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Express, Request, Response } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { PinoLogger } from 'nestjs-pino';
import { pinoHttp, HttpLogger } from 'pino-http';
import { sendException } from '@plinth/common';
import { PlinthConfig } from '@plinth/config';
import { closeIfBodyUnread, gatewayCors, GatewayGuard } from '@plinth/gateway';
import type { TenantContext } from '@plinth/gateway';
import { RestMethod, restQueryOf, RestService, sendOpenApi, sendPostgrest } from '@plinth/runtime-data';
import { requestIdFor } from './api.module';
import { JsonBodyParser, jsonBodyParser } from './json-body-parser';

/** `/p/:ref/rest/v1/:table` and the root `/p/:ref/rest/v1[/]`, lowercase and unencoded; anything else is Express's. */
const ROUTE = /^\/p\/([^/?#%]+)\/rest\/v1(?:\/([^/?#%]+))?\/?(?:\?|$)/;
const METHODS: ReadonlySet<string> = new Set<RestMethod>(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE']);
/** Media types the JSON parser takes (as registered in app.factory); other bodies go to Express. */
const JSON_TYPES = ['application/json', 'application/*+json'];
const JSON_MEDIA = /^application\/(?:json|[^/;\s]+\+json)\s*(?:;|$)/i;

/**
 * The tenant data plane's fast lane: serves PostgREST requests from a plain request listener in front of Express,
 * skipping the router and Nest's pipeline (their cost dominated the data path). It runs the same steps as the Nest
 * route, through the same code and in the same order: request id and log line (the app's pino-http setup on its root
 * logger, without AsyncLocalStorage), gateway CORS, {@link GatewayGuard.resolve} (keys, billing access, metering,
 * limits), then the JSON body parser with the same options (plain bodies read by {@link jsonBodyParser}),
 * {@link RestService}, and the global filter's rendering for errors. The request and response get Express's prototypes, so `req.ip`
 * (trust proxy), `res.json` and `res.send` behave as there. Preflights, other methods, encoded or mixed-case paths and non-JSON bodies go to Express unchanged.
 */
export class RestFastLane {
  private readonly express: Express;
  private readonly guard: GatewayGuard;
  private readonly rest: RestService;
  private readonly parseJson: JsonBodyParser;
  private log?: HttpLogger;

  constructor(app: NestExpressApplication, config: PlinthConfig) {
    this.express = app.getHttpAdapter().getInstance() as Express;
    this.guard = app.get(GatewayGuard);
    this.rest = app.get(RestService);
    this.parseJson = jsonBodyParser({ limit: config.http.bodyLimitBytes, type: JSON_TYPES });
  }

  /** Puts the lane in front of the server's existing request listeners (Express). */
  install(server: Server): void {
    const others = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.serve(req, res)) return;
      for (const listener of others) listener.call(server, req, res);
    });
  }

  /** Serves the request if it is the lane's; false leaves it untouched for Express. */
  serve(raw: IncomingMessage, rawRes: ServerResponse): boolean {
    const method = raw.method ?? '';
    if (!METHODS.has(method)) return false;
    const url = raw.url ?? '';
    const m = ROUTE.exec(url);
    if (!m) return false;
    const [, ref, table] = m;
    if (table === undefined && method !== 'GET' && method !== 'HEAD') return false;
    if (!this.bodyIsOurs(raw)) return false;

    // What Express's app.handle does before routing.
    const req = raw as Request;
    const res = rawRes as Response;
    req.res = res;
    res.req = req;
    Object.setPrototypeOf(req, this.express.request);
    Object.setPrototypeOf(res, this.express.response);
    if (!res.locals) res.locals = Object.create(null);
    req.originalUrl = url;
    req.baseUrl = '';
    req.params = table === undefined ? { ref } : { ref, table };

    // In the Nest route's order: the request log and id, CORS, the guard (key, then admission), the body, the
    // handler. The key is judged before a byte of the body is read, so a bad key gets its 401 at once (and the
    // connection is closed rather than kept to drain a body nobody wants).
    this.logRequest(req, res);
    gatewayCors(req, res, noop);
    this.guard.resolve(req, res, ref, 'rest', table === undefined ? undefined : { table }).then(
      (t) =>
        this.parseJson(req, res, (err) => {
          if (err) return sendException(err, req, res);
          this.handle(req, res, t, method as RestMethod, table).catch((e: unknown) => sendException(e, req, res));
        }),
      (e: unknown) => {
        closeIfBodyUnread(req, res);
        sendException(e, req, res);
      },
    ).catch((e: unknown) => sendException(e, req, res));
    return true;
  }

  private async handle(req: Request, res: Response, t: TenantContext, method: RestMethod, table: string | undefined): Promise<void> {
    if (table === undefined) {
      sendOpenApi(req, res, await this.rest.openApi(t));
      return;
    }
    const r = await this.rest.handle(t, { method, table, query: restQueryOf(req.url), headers: req.headers, body: req.body });
    sendPostgrest(res, r);
  }

  /**
   * Bodies the JSON parser takes, or none. Others (form posts, text) are left to Express, whose parsers decide what
   * they become; a request without a content type has no parsed body on either path.
   */
  private bodyIsOurs(req: IncomingMessage): boolean {
    const type = req.headers['content-type'];
    if (type === undefined || JSON_MEDIA.test(type)) return true;
    return req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined;
  }

  /**
   * pino-http as the app configures it, on the same root logger (built on first use, when that logger exists). It
   * logs at `info` only, so below that level the request just gets its id, sparing the per-request child logger.
   */
  private logRequest(req: Request, res: Response): void {
    const root = PinoLogger.root;
    if (!root.isLevelEnabled('info')) {
      (req as Request & { id?: unknown }).id = requestIdFor(req, res);
      return;
    }
    this.log ??= pinoHttp({ logger: root, genReqId: requestIdFor, wrapSerializers: false });
    this.log(req, res);
  }
}

function noop(): void {}
