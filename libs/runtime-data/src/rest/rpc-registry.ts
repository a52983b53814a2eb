import { Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TenantContext } from '@plinth/gateway';

/** One `rpc/:name` call as the rest edge hands it over. */
export interface RpcCall {
  tenant: TenantContext;
  name: string;
  /** The arguments: the JSON body of a POST, or the query parameters of a GET. */
  args: unknown;
  /** GET (and HEAD): only functions that declared themselves read-only may answer. */
  readOnly: boolean;
  req: IncomingMessage;
  res: ServerResponse;
}

/** Serves an rpc call by writing the response; false when it has no function of that name (→ 404 PGRST202). */
export type RpcHandler = (call: RpcCall) => Promise<boolean>;

/**
 * Where a runtime that offers `rpc()` (the functions runtime) plugs in, so the data runtime serves
 * `/p/:ref/rest/v1/rpc/:name` without depending on it: with nothing bound, every name is unknown.
 */
@Injectable()
export class RpcRegistry {
  private handler: RpcHandler | undefined;

  bind(handler: RpcHandler): void {
    this.handler = handler;
  }

  async call(c: RpcCall): Promise<boolean> {
    return this.handler ? this.handler(c) : false;
  }
}
