import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { json, urlencoded } from 'express';
import { from, Observable, switchMap } from 'rxjs';
import type { TenantRequest } from '@plinth/gateway';

/** Tenant routes (Express matches paths case-insensitively); their bodies wait for the gateway. */
const TENANT_PATH = /^\/p\//i;

/**
 * The app's body parsers: JSON (`application/json`, `application/*+json`) and forms, within the body limit, keeping
 * the raw bytes as `req.rawBody` (Stripe webhook signatures), as Nest's `rawBody: true` did. Management routes
 * (`/v1/…`) get them as Express middleware. Tenant routes (`/p/…`) get them only after the gateway has judged the
 * key and admitted the request ({@link TenantBodyInterceptor}), so nobody without a valid key makes the server read,
 * or wait for, a body.
 */
export class BodyParsers {
  private readonly parsers: RequestHandler[];

  constructor(limit: number, jsonTypes: string[]) {
    const verify = (req: IncomingMessage, _res: ServerResponse, buf: Buffer): void => {
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
    };
    this.parsers = [json({ limit, type: jsonTypes, verify }), urlencoded({ limit, extended: false, verify })];
  }

  /** Express middleware: parses every request's body except on tenant routes. */
  readonly outsideTenantRoutes = (req: Request, res: Response, next: NextFunction): void => {
    if (TENANT_PATH.test(req.url)) return next();
    this.run(req, res, 0, next);
  };

  /** Reads and parses the body now (a no-op once read); rejects with body-parser's error (400/413/415). */
  read(req: Request, res: Response): Promise<void> {
    return new Promise((resolve, reject) => this.run(req, res, 0, (err?: unknown) => (err ? reject(err) : resolve())));
  }

  private run(req: Request, res: Response, i: number, done: (err?: unknown) => void): void {
    if (i === this.parsers.length) return done();
    this.parsers[i](req, res, (err?: unknown) => (err ? done(err) : this.run(req, res, i + 1, done)));
  }
}

/** Reads a tenant request's body once the gateway guard has set its tenant (runs after guards, before pipes). */
@Injectable()
export class TenantBodyInterceptor implements NestInterceptor {
  constructor(private readonly parsers: BodyParsers) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<TenantRequest>();
    if (req.tenant === undefined) return next.handle();
    return from(this.parsers.read(req, ctx.switchToHttp().getResponse<Response>())).pipe(switchMap(() => next.handle()));
  }
}
