import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyTarget } from '../key-resolver';
import type { TenantContext } from '../tenant-context';
import { ErrorDialect, ErrorDialects } from './error-dialects';

export type EdgeMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * What the edge reads of a body before the handler runs, after the key is judged and the request admitted:
 * - `none`: nothing (a body sent anyway is discarded by Node);
 * - `json`: JSON (`application/json`, `application/*+json`) and url-encoded forms, within the body limit, as
 *   `ctx.body`; a body of another type is left unread (`ctx.body` undefined); refusals are 400/413/415;
 * - `raw`: the bytes of any type, within the body limit, as a Buffer;
 * - `stream`: nothing; the handler reads `ctx.req` itself (uploads).
 */
export type BodyMode = 'none' | 'json' | 'raw' | 'stream';

/** What a handler gets: the admitted caller, the path's parameters, the query, the body as its route asked. */
export interface EdgeContext {
  req: IncomingMessage;
  res: ServerResponse;
  tenant: TenantContext;
  method: EdgeMethod;
  /** Path parameters, percent-decoded; a catch-all's rest of the path is `params['*']`. */
  params: Record<string, string>;
  /** The raw query string (after `?`, or ''), so parameter order and repeats reach parsers exactly as sent. */
  query: string;
  body: unknown;
  /** The client's address (trust proxy applied). */
  ip: string;
}

export interface EdgeRoute {
  methods: readonly EdgeMethod[];
  /** Relative to `/p/:ref/<runtime>/v1`: literal segments, `:param`s, and a trailing `*` for the rest of the path. */
  path: string;
  body: BodyMode;
  /** What the key must be allowed to reach (a table, a bucket), from the path's parameters. */
  target?: (params: Record<string, string>) => KeyTarget;
  /**
   * `optional` for what a browser opens or fetches bare (an emailed link, a JWKS): without a key the caller is the
   * project's anonymous caller, still metered and held to the per-IP limits; a key that is sent is judged as usual.
   */
  key?: 'required' | 'optional';
  /** Writes the response (or throws what the edge renders in the runtime's dialect). */
  handler(ctx: EdgeContext): Promise<void> | void;
}

/** A runtime plugs into the edge with its name (the `<runtime>` in `/p/:ref/<runtime>/v1`), its dialect and routes. */
export interface EdgeRuntime {
  name: string;
  dialect?: ErrorDialect;
  routes: EdgeRoute[];
}

export interface RouteMatch {
  route: EdgeRoute;
  params: Record<string, string>;
}

type Segment = { literal: string } | { param: string } | { rest: true };

interface CompiledRoute {
  route: EdgeRoute;
  segments: Segment[];
}

/** A path segment could not be percent-decoded. */
export class MalformedPath extends Error {}

/**
 * The routes of every runtime, matched segment by segment (literals exactly, `:param`s any non-empty segment, `*`
 * the rest): no regular expression is built from a route or a request. Runtimes register at module init.
 */
@Injectable()
export class RuntimeRegistry {
  private readonly runtimes = new Map<string, CompiledRoute[]>();

  constructor(private readonly dialects: ErrorDialects) {}

  register(runtime: EdgeRuntime): void {
    if (this.runtimes.has(runtime.name)) throw new Error(`Runtime "${runtime.name}" registered twice`);
    this.runtimes.set(runtime.name, runtime.routes.map((route) => ({ route, segments: compile(route.path) })));
    if (runtime.dialect) this.dialects.register(runtime.name, runtime.dialect);
  }

  /**
   * The route of `runtime` serving `method` on `path` (what follows `/v1`, without the query), or undefined; a HEAD
   * without a route of its own takes the GET route's.
   * Throws {@link MalformedPath} for a parameter that isn't valid percent-encoding.
   */
  match(runtime: string, method: string, path: string): RouteMatch | undefined {
    const routes = this.runtimes.get(runtime);
    if (routes === undefined) return undefined;
    const parts = path.split('/');
    // `/v1`, `/v1/` and `/v1/x/` address the same resources as `/v1/` and `/v1/x`.
    if (parts[0] === '') parts.shift();
    if (parts.length && parts[parts.length - 1] === '') parts.pop();
    for (const { route, segments } of routes) {
      if (!route.methods.includes(method as EdgeMethod)) continue;
      const params = matchSegments(segments, parts);
      if (params !== undefined) return { route, params };
    }
    // As HTTP (and Express) have it: a GET route answers HEAD too (Node sends no body for HEAD).
    return method === 'HEAD' ? this.match(runtime, 'GET', path) : undefined;
  }
}

function compile(path: string): Segment[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((p, i) => {
    if (p === '*') {
      if (i !== parts.length - 1) throw new Error(`"*" must end route ${path}`);
      return { rest: true as const };
    }
    return p.startsWith(':') ? { param: p.slice(1) } : { literal: p };
  });
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if ('rest' in s) {
      params['*'] = parts.slice(i).map(decode).join('/');
      return params;
    }
    if (i >= parts.length) return undefined;
    if ('literal' in s) {
      if (parts[i] !== s.literal) return undefined;
    } else {
      if (parts[i] === '') return undefined;
      params[s.param] = decode(parts[i]);
    }
  }
  return parts.length === segments.length ? params : undefined;
}

function decode(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new MalformedPath(segment);
  }
}
