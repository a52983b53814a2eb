import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
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
        { methods: METHODS, path: '/:name', body: 'stream', handler: (c) => this.serve(c) },
        { methods: METHODS, path: '/:name/*', body: 'stream', handler: (c) => this.serve(c) },
      ],
    };
  }

  private async body(req: IncomingMessage): Promise<{ body: Uint8Array | null; upload?: Readable }> {
    const declared = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (declared === undefined && !chunked) return { body: null };
    const limit = this.config.functions.maxRequestBytes;
    const length = declared === undefined ? NaN : Number(declared);
    if (length > limit) throw tooLarge(limit);
    if (!chunked && length <= INLINE_BODY_BYTES) return { body: length ? await readSmall(req) : null };
    return { body: null, upload: req };
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
    const { body, upload } = await this.body(c.req);
    const answer = await this.invoker.invoke({ tenant: c.tenant, name, request: { method: c.method, url, headers, body }, upload, requestId: String(c.res.getHeader('x-request-id') ?? '') }, fn);
    sendAnswer(c.res, answer, c.method === 'HEAD');
  }
}

/**
 * The request body as the runner gets it, bytes as sent (no decoding of a `content-encoding`): none; a small one
 * (a declared length up to {@link INLINE_BODY_BYTES}) read here and sent with the call; anything larger or of
 * unknown length left unread, streamed to the runner with back-pressure by the pool. A declared length over
 * `FUNCTION_MAX_REQUEST_BYTES` is refused before reading; an unsized one is cut off there while streaming.
 */
const INLINE_BODY_BYTES = 64 * 1024;

function tooLarge(limit: number): WireException {
  return functionsError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than the ${limit} bytes allowed`);
}

/** Reads a body of a declared, small length (the connection enforces the length). */
function readSmall(req: IncomingMessage): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    };
    const onClose = () => {
      cleanup();
      reject(functionsError(408, 'REQUEST_ABORTED', 'The request body did not arrive: the client closed the connection'));
    };
    const onEnd = () => {
      cleanup();
      resolve(size ? new Uint8Array(Buffer.concat(chunks, size)) : null);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
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
