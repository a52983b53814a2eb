import { Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { ErrorCode, PlinthException } from '@plinth/common';
import { KeyVerifier, Runtime, RUNTIMES, VerifiedKey } from '@plinth/keys';
import { EndUser, EndUserTokens } from './end-user-tokens';
import { ProjectDirectory } from './project-directory';
import type { TenantContext, TenantProject } from './tenant-context';

/** What the resolver reads from a request; `ip` as Express derives it (trust proxy applied). */
export interface KeyRequest {
  method?: string;
  ip?: string;
  headers: IncomingHttpHeaders;
}

/** What a request addresses with its key: a runtime's table or bucket when it names one. */
export interface KeyTarget {
  table?: string;
  bucket?: string;
  /**
   * A route's own action for restricted keys (`send` for `notifications:send`), judged instead of read/write: a key
   * needs `<runtime>:<action>` (or `<runtime>:*`) for it.
   */
  action?: string;
}

/** A key that passed every restriction for the surface it was presented to, with its project. */
export interface ResolvedKey {
  key: VerifiedKey;
  project: TenantProject;
}

/**
 * The surfaces a key is presented to: a tenant runtime, or `catalog` (the management API's table catalog and rules
 * under `/v1/projects/:ref/tables`, which takes only the project's secret key).
 */
export type KeySurface = Runtime | 'catalog';

/** A bearer that claims to be an API key (a personal access token, `pl_pat_…`, is not one). */
const KEY_BEARER = /^pl_(?:pk|sk|rk)_/;

/** One response for unknown, malformed, revoked, expired and other-project keys, so none can be told apart. */
const invalidKey = () => new PlinthException(ErrorCode.InvalidApiKey, 'Invalid API key');
const noKey = () => new PlinthException(ErrorCode.InvalidApiKey, 'No API key found in request', undefined, { 'www-authenticate': 'Bearer' });
/** Refs aren't secrets (keys are): an address with no project behind it says so, whatever key came with it. */
const noProject = () => PlinthException.notFound('Project');

/**
 * The one place a presented API key is judged. Every surface that takes a key (the tenant edge for `/p/:ref/…`, the
 * table catalog and rules) calls it, so a new endpoint cannot forget a restriction. In order: `:ref` names a project
 * (else 404, with any key or none: refs aren't secrets, keys are); the key exists, isn't revoked or expired, and
 * belongs to it (all the same 401); its type suits the
 * surface (the catalog takes secret keys only, others get the same 401); a secret key isn't used from a browser
 * unless it allows it; its allowed origins and IP ranges; a restricted key's scopes, read-only flag and table or
 * bucket lists (403 each). Admission (billing, quotas, rate limits, metering) is not its business.
 *
 * An origin-restricted key is refused when the request has no `Origin` at all, as Google's referrer-restricted API
 * keys are: browsers always send `Origin` with the cross-origin fetch a key header needs, so a request without one is
 * not from an allowed page. (Any non-browser client can forge the header, so an origin list is a guard against other
 * websites, not against servers; servers should hold the secret key or an IP-restricted one.)
 */
@Injectable()
export class KeyResolver {
  /** A key's IP ranges, compiled once per verified key (the verifier hands out the same object until it reloads). */
  private readonly ipLists = new WeakMap<VerifiedKey, BlockList>();

  constructor(
    private readonly verifier: KeyVerifier,
    private readonly directory: ProjectDirectory,
    private readonly endUsers: EndUserTokens,
  ) {}

  /**
   * `/p/:ref/:runtime/…`: the caller's {@link TenantContext}. An unknown runtime is 404 before any key is looked at.
   * An end-user access token riding along with the publishable key (supabase-js sends both) makes the caller
   * `authenticated`; it is verified against this project only.
   */
  async tenant(req: KeyRequest, ref: string, runtimeName: string, target?: KeyTarget): Promise<TenantContext> {
    const runtime = runtimeName as Runtime;
    if (!RUNTIMES.includes(runtime)) throw PlinthException.notFound(`Runtime "${runtime.slice(0, 40)}"`);
    const { key: presented, userToken } = credentials(req.headers);
    if (!presented) throw (await this.directory.find(ref)) ? noKey() : noProject();
    const { key, project } = await this.check(req, presented, ref, runtime, target);

    let user: EndUser | null = null;
    if (userToken && key.type === 'publishable') {
      user = await this.endUsers.verify(project, userToken);
      if (!user) throw new PlinthException(ErrorCode.Unauthorized, 'Invalid or expired access token', undefined, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    return {
      project,
      runtime,
      role: user ? 'authenticated' : key.type === 'publishable' ? 'anon' : key.type === 'secret' ? 'service' : 'restricted',
      user,
      keyId: key.id,
      keyType: key.type,
      restrictions: key.scopes,
    };
  }

  /**
   * The caller of a route that takes no key (an emailed link, a JWKS) when none was sent: the project's anonymous
   * caller. Its key id stands for "no key" of this project, so the per-key limit is a bucket of the project's own.
   */
  async keyless(ref: string, runtimeName: string): Promise<TenantContext> {
    const runtime = runtimeName as Runtime;
    if (!RUNTIMES.includes(runtime)) throw PlinthException.notFound(`Runtime "${runtime.slice(0, 40)}"`);
    const project = await this.directory.find(ref);
    if (!project) throw noProject();
    return { project, runtime, role: 'anon', user: null, keyId: `keyless:${project.id}`, keyType: 'publishable', restrictions: null };
  }

  /** The key a request presents (`apikey`, or `Authorization: Bearer pl_…`), or null: then it has none. */
  presentedKey(headers: IncomingHttpHeaders): string | null {
    return credentials(headers).key;
  }

  /** `presented` judged for `surface` of project `ref`; throws the 401/403 the request gets otherwise. */
  async check(req: KeyRequest, presented: string, ref: string, surface: KeySurface, target?: KeyTarget): Promise<ResolvedKey> {
    const project = await this.directory.find(ref);
    if (!project) throw noProject();
    const key = await this.verifier.verify(presented);
    if (!key || project.id !== key.projectId) throw invalidKey();
    if (surface === 'catalog' && key.type !== 'secret') throw invalidKey();

    const origin = header(req.headers, 'origin');
    if (key.type === 'secret' && origin && !key.allowBrowser) {
      throw PlinthException.forbidden('Secret keys cannot be used from a browser; use the publishable key');
    }
    if (key.allowedOrigins?.length) {
      if (!origin) throw PlinthException.forbidden('This key is only accepted from its allowed origins, and the request has no Origin');
      if (!key.allowedOrigins.includes(origin)) throw PlinthException.forbidden('This key is not allowed from this origin');
    }
    if (key.allowedIps?.length && !this.ipAllowed(key, req.ip ?? '')) {
      throw PlinthException.forbidden('This key is not allowed from this IP address');
    }
    if (key.type === 'restricted') {
      // The catalog never gets here (secret keys only); a restricted key is judged by its runtime scopes.
      const action = target?.action ?? (req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write');
      if (!scopeAllows(key, surface as Runtime, action)) throw PlinthException.forbidden(`This key's scopes do not allow ${surface}:${action}`);
      const tables = key.scopes?.tables;
      if (target?.table !== undefined && tables?.length && !tables.includes(target.table)) {
        throw PlinthException.forbidden(`This key may not use table "${target.table.slice(0, 63)}"`);
      }
      const buckets = key.scopes?.buckets;
      if (target?.bucket !== undefined && buckets?.length && !buckets.includes(target.bucket)) {
        throw PlinthException.forbidden(`This key may not use bucket "${target.bucket.slice(0, 63)}"`);
      }
    }
    return { key, project };
  }

  private ipAllowed(key: VerifiedKey, ip: string): boolean {
    const addr = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
    const family = isIP(addr);
    if (!family) return false;
    let list = this.ipLists.get(key);
    if (list === undefined) this.ipLists.set(key, (list = blockList(key.allowedIps ?? [])));
    return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
  }
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
  const bearerIsKey = bearer !== null && KEY_BEARER.test(bearer);
  if (apikey) return { key: apikey, userToken: bearer && !bearerIsKey ? bearer : null };
  return { key: bearerIsKey ? bearer : null, userToken: null };
}

/** Whether a restricted key's scopes (`<runtime>:<read|write>`, `*` wildcards) and read-only flag allow the action. */
export function scopeAllows(key: Pick<VerifiedKey, 'scopes'>, runtime: Runtime, action: string): boolean {
  const scopes = key.scopes;
  if (!scopes) return false;
  if (action !== 'read' && scopes.read_only) return false;
  return scopes.scopes.some((s) => {
    const [r, a] = s.split(':');
    return (r === runtime || r === '*') && (a === action || a === '*');
  });
}

function blockList(ranges: string[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    const [net, bits] = r.split('/');
    const type = isIP(net) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net, type);
    else list.addSubnet(net, Number(bits), type);
  }
  return list;
}
