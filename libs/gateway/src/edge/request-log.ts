import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HttpLogger, pinoHttp } from 'pino-http';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The request id: the caller's `x-request-id` when sane, else a fresh UUID; echoed as `x-request-id`. */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/**
 * One JSON log line per tenant request, as the app logs its others: pino-http on the app's root pino logger (with
 * the app's redaction and serializers, see {@link attach}), with the same request id. It logs at `info` only, so
 * below that level (or before a logger is attached) the request just gets its id, sparing the per-request child.
 */
export class RequestLog {
  private log?: HttpLogger;
  private root?: Logger;

  /** The app's root logger, given when the edge is installed. */
  attach(root: Logger): void {
    this.root = root;
    this.log = undefined;
  }

  start(req: IncomingMessage, res: ServerResponse): void {
    const root = this.root;
    if (!root?.isLevelEnabled('info')) {
      (req as IncomingMessage & { id?: unknown }).id = requestIdFor(req, res);
      return;
    }
    this.log ??= pinoHttp({ logger: root, genReqId: requestIdFor, wrapSerializers: false });
    this.log(req, res);
  }
}
