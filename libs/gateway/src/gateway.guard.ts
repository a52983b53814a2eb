import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { BillingAccessService } from '@plinth/billing';
import { MeteringService } from '@plinth/metering';
import { TenantLimitsService } from '@plinth/quotas';
import { KeyResolver, KeyTarget } from './key-resolver';
import { TenantContext, TenantRequest } from './tenant-context';

const RUNTIME_IN_PATH = /^\/p\/[^/]+\/([^/]+)\/v1(?:\/|$)/;

/**
 * Resolves `/p/:ref/:runtime/...` into a {@link TenantContext}: the {@link KeyResolver} judges the key (and any
 * end-user token) with every restriction it carries, then the request is admitted (billing access, metering,
 * limits).
 */
@Injectable()
export class GatewayGuard implements CanActivate {
  constructor(
    private readonly keys: KeyResolver,
    private readonly limits: TenantLimitsService,
    private readonly metering: MeteringService,
    private readonly billing: BillingAccessService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TenantRequest>();
    const res = ctx.switchToHttp().getResponse<ServerResponse>();
    // Runtime controllers mount at a fixed path (`p/:ref/rest/v1`), the fallback at `p/:ref/:runtime/v1`.
    const runtime = String(req.params.runtime ?? RUNTIME_IN_PATH.exec(req.path)?.[1]);
    const table = typeof req.params.table === 'string' ? req.params.table : undefined;
    try {
      req.tenant = await this.resolve(req, res, String(req.params.ref), runtime, table === undefined ? undefined : { table });
    } catch (e) {
      closeIfBodyUnread(req, res);
      throw e;
    }
    return true;
  }

  /**
   * The guard's work on a plain request: key → {@link TenantContext} (by the {@link KeyResolver}), then billing
   * access, metering (counted when `res` finishes) and limits (headers set on `res`). Throws what the exception
   * filter renders. The data fast lane calls it outside Nest's pipeline, so both paths admit and count requests alike.
   */
  async resolve(req: GatewayRequest, res: ServerResponse, ref: string, runtimeName: string, target?: KeyTarget): Promise<TenantContext> {
    const context = await this.keys.tenant(req, ref, runtimeName, target);
    const { project, runtime } = context;
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    // Metering and limits: count the response when it finishes; refuse over quota (402) or over rate (429).
    // Non-payment: read-only after the grace period, then suspended (402). Synchronous while the org's state is cached.
    const billing = this.billing.admit(project.orgId, write);
    if (billing !== undefined) await billing;
    this.metering.trackResponse(res, project.id, runtime);
    // Synchronous in the steady state (caches warm, in-memory limits): awaited only when it returned a promise.
    const admitting = this.limits.admit(
      { projectId: project.id, orgId: project.orgId, keyId: context.keyId, anonymous: context.role === 'anon', endUserId: context.user?.id ?? null, client: req },
      res,
    );
    if (admitting !== undefined) await admitting;
    return context;
  }
}

/** What {@link GatewayGuard.resolve} reads from a request; `ip` as Express derives it (trust proxy applied). */
export interface GatewayRequest {
  method?: string;
  ip?: string;
  headers: IncomingHttpHeaders;
  socket?: { remoteAddress?: string } | null;
}

/**
 * A request refused before its body was read closes its connection after the answer, so a body still arriving
 * (perhaps trickled on purpose) holds no socket; Node would otherwise read and discard it to keep the connection.
 */
export function closeIfBodyUnread(req: { complete: boolean }, res: { headersSent: boolean; setHeader(name: string, value: string): unknown }): void {
  if (!req.complete && !res.headersSent) res.setHeader('connection', 'close');
}
