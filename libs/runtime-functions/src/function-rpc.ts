import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { WireException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { RpcCall, RpcRegistry } from '@plinth/runtime-data';
import { FunctionInvoker } from './function-invoker';
import { sendAnswer } from './functions-edge';

/**
 * `supabase.rpc(name, args)` for functions deployed with `rpc: true`: the arguments arrive as a JSON POST body (GET
 * query arguments for `rpc_read_only` ones) and the function's response goes out as is; its errors in PostgREST's
 * `{code,message,details,hint}` shape.
 */
@Injectable()
export class FunctionRpc implements OnModuleInit {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly registry: RpcRegistry,
    private readonly invoker: FunctionInvoker,
  ) {}

  onModuleInit(): void {
    this.registry.bind((c) => this.call(c));
  }

  private async call(c: RpcCall): Promise<boolean> {
    const fn = await this.invoker.find(c.tenant, c.name, c.readOnly ? 'read' : 'write');
    if (!fn) return false;
    const body = new TextEncoder().encode(JSON.stringify(c.args ?? {}));
    const headers: Array<[string, string]> = [];
    const raw = c.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!/^content-(type|length)$/i.test(raw[i])) headers.push([raw[i].toLowerCase(), raw[i + 1]]);
    headers.push(['content-type', 'application/json']);
    const url = `${this.config.http.publicUrl}/p/${c.tenant.project.ref}/rest/v1/rpc/${encodeURIComponent(c.name)}`;
    try {
      // rpc() is a data call: the function's own verify_jwt doesn't apply, the rules inside env.db do.
      const answer = await this.invoker.invoke(
        { tenant: c.tenant, name: c.name, request: { method: 'POST', url, headers, body }, requestId: String(c.res.getHeader('x-request-id') ?? ''), rpc: c.readOnly ? 'read' : 'write' },
        { ...fn, settings: { ...fn.settings, verify_jwt: false } },
      );
      sendAnswer(c.res, answer, c.req.method === 'HEAD');
      return true;
    } catch (e) {
      if (e instanceof WireException) {
        const b = e.body as { code?: string; message?: string; error_id?: string };
        throw new WireException(e.status, { code: b.code ?? 'PGRST000', message: b.message ?? 'function failed', details: b.error_id ? `error id ${b.error_id}` : null, hint: null }, e.headers);
      }
      throw e;
    }
  }
}
