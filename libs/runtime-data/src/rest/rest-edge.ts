import { Injectable, OnModuleInit } from '@nestjs/common';
import { ErrorCode, PlinthException, WireException } from '@plinth/common';
import { EdgeContext, EdgeRuntime, ErrorDialect, RuntimeRegistry, StandardError } from '@plinth/gateway';
import { restQueryOf, sendOpenApi, sendPostgrest } from './rest-http';
import { RestMethod, RestService } from './rest.service';
import { RpcRegistry } from './rpc-registry';

/**
 * PostgREST's error shape `{code, message, details, hint}` for the errors the edge raises on `/p/:ref/rest/v1`
 * (key, admission, body): `code` is Plinth's error code, `details` its details or extra fields (`meter`, `limit`,
 * …) and, on a 500, the error id. The runtime's own errors already are PostgREST's ({@link RestService}).
 */
export const POSTGREST_DIALECT: ErrorDialect = {
  render: (e: StandardError) => {
    const details = e.errorId !== undefined ? { error_id: e.errorId } : (e.details ?? e.fields ?? null);
    return new WireException(e.status, { code: e.code, message: e.message, details, hint: null }, e.headers);
  },
};

/**
 * `/p/:ref/rest/v1`: the PostgREST dialect supabase-js speaks, over the project's declared tables. The root is the
 * project's OpenAPI document (complete with the secret key; limited to what the caller may use otherwise).
 */
@Injectable()
export class RestEdge implements OnModuleInit {
  constructor(
    private readonly runtimes: RuntimeRegistry,
    private readonly rest: RestService,
    private readonly rpc: RpcRegistry,
  ) {}

  onModuleInit(): void {
    this.runtimes.register(this.runtime());
  }

  runtime(): EdgeRuntime {
    const table = (p: Record<string, string>) => ({ table: p.table });
    return {
      name: 'rest',
      dialect: POSTGREST_DIALECT,
      routes: [
        { methods: ['GET', 'HEAD'], path: '/', body: 'none', handler: (c) => this.openApi(c) },
        { methods: ['GET', 'HEAD', 'DELETE'], path: '/:table', body: 'none', target: table, handler: (c) => this.serve(c) },
        { methods: ['POST', 'PATCH'], path: '/:table', body: 'json', target: table, handler: (c) => this.serve(c) },
        { methods: ['GET', 'HEAD'], path: '/rpc/:fn', body: 'none', handler: (c) => this.callRpc(c, Object.fromEntries(new URLSearchParams(c.query)), true) },
        { methods: ['POST'], path: '/rpc/:fn', body: 'json', handler: (c) => this.callRpc(c, c.body ?? {}, false) },
      ],
    };
  }

  private async openApi(c: EdgeContext): Promise<void> {
    sendOpenApi(c.req, c.res, await this.rest.openApi(c.tenant));
  }

  /** `rpc/:fn`: whatever runtime is bound to the {@link RpcRegistry} answers; an unknown name is PostgREST's 404 PGRST202. */
  private async callRpc(c: EdgeContext, args: unknown, readOnly: boolean): Promise<void> {
    const served = await this.rpc.call({ tenant: c.tenant, name: c.params.fn, args, readOnly, req: c.req, res: c.res });
    if (!served) {
      const name = c.params.fn.slice(0, 63);
      throw new WireException(404, { code: 'PGRST202', message: `Could not find the function public.${name} without parameters in the schema cache`, details: null, hint: null });
    }
  }

  private async serve(c: EdgeContext): Promise<void> {
    if (c.body === undefined && hasBody(c)) {
      // A body the edge left unread is of a media type the route doesn't take (text, XML, none given).
      const type = c.req.headers['content-type'];
      const sent = type ? `Content-Type ${type.slice(0, 80)}` : 'no Content-Type';
      throw new PlinthException(ErrorCode.UnsupportedMediaType, `This endpoint takes a JSON body (Content-Type: application/json); the request has ${sent}`);
    }
    const r = await this.rest.handle(c.tenant, { method: c.method as RestMethod, table: c.params.table, query: restQueryOf(c.query), headers: c.req.headers, body: c.body });
    sendPostgrest(c.res, r);
  }
}

/** Whether a POST or PATCH came with a body (a declared non-zero length, or chunked). */
function hasBody(c: EdgeContext): boolean {
  if (c.method !== 'POST' && c.method !== 'PATCH') return false;
  const length = c.req.headers['content-length'];
  return length !== undefined ? length !== '0' : c.req.headers['transfer-encoding'] !== undefined;
}
