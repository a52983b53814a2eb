import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { BillingAccessService } from '@plinth/billing';
import { ErrorCode, PlinthException } from '@plinth/common';
import { KeyVerifier, Runtime, RUNTIMES, VerifiedKey } from '@plinth/keys';
import { MeteringService } from '@plinth/metering';
import { TenantLimitsService } from '@plinth/quotas';
import { EndUser, EndUserTokens } from './end-user-tokens';
import { ProjectDirectory } from './project-directory';
import { TenantContext, TenantRequest } from './tenant-context';

const RUNTIME_IN_PATH = /^\/p\/[^/]+\/([^/]+)\/v1(?:\/|$)/;

/** One response for unknown, malformed, revoked, expired and other-project keys, so none can be told apart. */
const invalidKey = () => new PlinthException(ErrorCode.InvalidApiKey, 'Invalid API key');

/**
 * Resolves `/p/:ref/:runtime/...` into a {@link TenantContext}: the key (from `apikey` or `Authorization:
 * Bearer`) must verify and belong to `:ref`; then browser use of secret keys, allowed origins and IPs, and
 * a restricted key's scopes are enforced.
 */
@Injectable()
export class GatewayGuard implements CanActivate {
  constructor(
    private readonly verifier: KeyVerifier,
    private readonly directory: ProjectDirectory,
    private readonly endUsers: EndUserTokens,
    private readonly limits: TenantLimitsService,
    private readonly metering: MeteringService,
    private readonly billing: BillingAccessService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TenantRequest>();
    // Runtime controllers mount at a fixed path (`p/:ref/rest/v1`), the fallback at `p/:ref/:runtime/v1`.
    const runtime = String(req.params.runtime ?? RUNTIME_IN_PATH.exec(req.path)?.[1]);
    req.tenant = await this.resolve(req, ctx.switchToHttp().getResponse<ServerResponse>(), String(req.params.ref), runtime);
    return true;
  }

  /**
   * The guard's work on a plain request: key → {@link TenantContext}, then billing access, metering (counted
   * when `res` finishes) and limits (headers set on `res`). Throws what the exception filter renders. The data
   * fast lane calls it outside Nest's pipeline, so both paths admit and count requests alike.
   */
  async resolve(req: GatewayRequest, res: ServerResponse, ref: string, runtimeName: string): Promise<TenantContext> {
    const runtime = runtimeName as Runtime;
    if (!RUNTIMES.includes(runtime)) throw PlinthException.notFound(`Runtime "${runtime.slice(0, 40)}"`);
    const { key: presented, userToken } = credentials(req.headers);
    if (!presented) throw new PlinthException(ErrorCode.InvalidApiKey, 'No API key found in request', undefined, { 'www-authenticate': 'Bearer' });

    const key = await this.verifier.verify(presented);
    if (!key) throw invalidKey();
    const project = await this.directory.find(ref);
    if (!project || project.id !== key.projectId) throw invalidKey();

    const origin = header(req.headers, 'origin');
    if (key.type === 'secret' && origin && !key.allowBrowser) {
      throw PlinthException.forbidden('Secret keys cannot be used from a browser; use the publishable key');
    }
    if (origin && key.allowedOrigins?.length && !key.allowedOrigins.includes(origin)) {
      throw PlinthException.forbidden('This key is not allowed from this origin');
    }
    if (key.allowedIps?.length && !ipAllowed(req.ip ?? '', key.allowedIps)) {
      throw PlinthException.forbidden('This key is not allowed from this IP address');
    }
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write';
    if (key.type === 'restricted' && !scopeAllows(key, runtime, action)) {
      throw PlinthException.forbidden(`This key's scopes do not allow ${runtime}:${action}`);
    }

    // An end-user token rides along with the publishable key (supabase-js sends both); it makes the caller
    // `authenticated`. Tokens are verified against this project only, so another project's token fails.
    let user: EndUser | null = null;
    if (userToken && key.type === 'publishable') {
      user = await this.endUsers.verify(project, userToken);
      if (!user) throw new PlinthException(ErrorCode.Unauthorized, 'Invalid or expired access token', undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }

    const context: TenantContext = {
      project,
      runtime,
      role: user ? 'authenticated' : key.type === 'publishable' ? 'anon' : key.type === 'secret' ? 'service' : 'restricted',
      user,
      keyId: key.id,
      keyType: key.type,
      restrictions: key.scopes,
    };
    // Metering and limits: count the response when it finishes; refuse over quota (402) or over rate (429).
    // Non-payment: read-only after the grace period, then suspended (402). Synchronous while the org's state is cached.
    const billing = this.billing.admit(project.orgId, action === 'write');
    if (billing !== undefined) await billing;
    this.metering.trackResponse(res, project.id, runtime);
    // Synchronous in the steady state (caches warm, in-memory limits): awaited only when it returned a promise.
    const admitting = this.limits.admit(
      { projectId: project.id, orgId: project.orgId, keyId: key.id, anonymous: context.role === 'anon', endUserId: user?.id ?? null, client: req },
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

/** A request header as Express's `req.get` returns it. */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The API key comes from `apikey`, or from `Authorization: Bearer` when that holds a key. A bearer that is
 * not a key (a JWT) alongside `apikey` is the end user's access token.
 */
function credentials(headers: IncomingHttpHeaders): { key: string | null; userToken: string | null } {
  const apikey = header(headers, 'apikey')?.trim() || null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header(headers, 'authorization') ?? '')?.[1] ?? null;
  const bearerIsKey = bearer !== null && bearer.startsWith('pl_');
  if (apikey) return { key: apikey, userToken: bearer && !bearerIsKey ? bearer : null };
  return { key: bearerIsKey ? bearer : null, userToken: null };
}

export function scopeAllows(key: Pick<VerifiedKey, 'scopes'>, runtime: Runtime, action: 'read' | 'write'): boolean {
  const scopes = key.scopes;
  if (!scopes) return false;
  if (action === 'write' && scopes.read_only) return false;
  return scopes.scopes.some((s) => {
    const [r, a] = s.split(':');
    return (r === runtime || r === '*') && (a === action || a === '*');
  });
}

function ipAllowed(ip: string, ranges: string[]): boolean {
  const addr = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const family = isIP(addr);
  if (!family) return false;
  const list = new BlockList();
  for (const r of ranges) {
    const [net, bits] = r.split('/');
    const type = isIP(net) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(bits), type);
  }
  return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}
