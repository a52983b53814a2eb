import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { WireException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { EdgeContext, EdgeMethod, EdgeRuntime, ErrorDialect, RuntimeRegistry, StandardError } from '@plinth/gateway';
import { FunctionAnswer, FunctionInvoker, functionsError } from './function-invoker';

/** Errors of `/p/:ref/functions/v1` as the functions client reads them: `{code, message}` (and an error id on a 500). */
export const FUNCTIONS_DIALECT: ErrorDialect = {
  render: (e: StandardError) =>
    new WireException(e.status, { code: e.code, message: e.message, ...(e.errorId ? { error_id: e.errorId } : {}), ...(e.fields ?? {}) }, e.headers),
};

const METHODS: EdgeMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Headers of the function's response that the connection owns. */
const HOP = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade']);

/**
 * `/p/:ref/functions/v1/:name[/*]`, any method: the function receives the request as sent (method, path, query,
 * headers, body bytes) and its response goes out as it made it (status, headers, body).
 */
@Injectable()
export class FunctionsEdge implements OnModuleInit {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly runtimes: RuntimeRegistry,
    private readonly invoker: FunctionInvoker,
  ) {}

  onModuleInit(): void {
    this.runtimes.register(this.runtime());
  }

  runtime(): EdgeRuntime {
    return {
      name: 'functions',
      dialect: FUNCTIONS_DIALECT,
      routes: [
        { methods: METHODS, path: '/:name', body: 'raw', handler: (c) => this.serve(c) },
        { methods: METHODS, path: '/:name/*', body: 'raw', handler: (c) => this.serve(c) },
      ],
    };
  }

  private async serve(c: EdgeContext): Promise<void> {
    const name = c.params.name;
    const fn = await this.invoker.find(c.tenant, name);
    if (!fn) throw functionsError(404, 'NOT_FOUND', 'Requested function was not found');
    const rest = c.params['*'] ? `/${c.params['*'].split('/').map(encodeURIComponent).join('/')}` : '';
    const url = `${this.config.http.publicUrl}/p/${c.tenant.project.ref}/functions/v1/${encodeURIComponent(name)}${rest}${c.query ? `?${c.query}` : ''}`;
    const headers: Array<[string, string]> = [];
    const raw = c.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) headers.push([raw[i].toLowerCase(), raw[i + 1]]);
    const body = Buffer.isBuffer(c.body) && c.body.length ? new Uint8Array(c.body.buffer, c.body.byteOffset, c.body.length) : null;
    const answer = await this.invoker.invoke({ tenant: c.tenant, name, request: { method: c.method, url, headers, body }, requestId: String(c.res.getHeader('x-request-id') ?? '') }, fn);
    sendAnswer(c.res, answer, c.method === 'HEAD');
  }
}

/** Writes a function's response: status and headers as the function set them, then the body. */
export function sendAnswer(res: ServerResponse, a: FunctionAnswer, head = false): void {
  res.statusCode = a.status;
  const grouped = new Map<string, string[]>();
  for (const [k, v] of a.headers) {
    const name = k.toLowerCase();
    if (HOP.has(name) || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) || /[\r\n\0]/.test(v)) continue;
    grouped.set(name, [...(grouped.get(name) ?? []), v]);
  }
  for (const [k, v] of grouped) res.setHeader(k, v.length === 1 ? v[0] : v);
  if (a.stream) {
    res.setHeader('content-length', a.chunked ?? 0);
    if (head) {
      a.stream.resume();
      res.end();
      return;
    }
    // A runner lost mid-body aborts the response: the client sees a cut connection, never a short body as complete.
    a.stream.on('error', () => res.destroy());
    a.stream.pipe(res);
    return;
  }
  const body = a.body && a.body.length ? Buffer.from(a.body.buffer, a.body.byteOffset, a.body.length) : null;
  res.setHeader('content-length', body ? body.length : 0);
  res.end(head ? undefined : (body ?? undefined));
}
