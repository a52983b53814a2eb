import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { ERROR_STATUS, ErrorCode, PlinthException } from './plinth.exception';
import { WireException } from './wire.exception';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; error_id?: string; [field: string]: unknown };
}

/** Statuses Nest's own HttpExceptions may carry, mapped to our codes. */
const HTTP_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
};

/** Where unexpected errors (500s) are logged with their error id. */
const logger = new Logger('PlinthExceptionFilter');

/** Where an error happened, for the 404 message of an unmatched route and the log line of a 500. */
export interface ErrorSite {
  method?: string;
  path: string;
}

/**
 * The one place errors become HTTP. Domain errors keep their code and message; body-parser faults become
 * 400/413/415; anything unexpected is a 500 whose error id is logged with the stack, never shown.
 */
@Catch()
export class PlinthExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const { status, body, headers } = renderException(exception, { method: req.method, path: req.path });
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
    res.status(status).json(body);
  }
}

/** WireExceptions go out as they are, other errors in Plinth's shape ({@link standardError}). */
export function renderException(exception: unknown, at: ErrorSite): { status: number; body: unknown; headers?: Record<string, string> } {
  if (exception instanceof WireException) return { status: exception.status, body: exception.body, headers: exception.headers };
  return standardError(exception, at);
}

/**
 * Any error in Plinth's shape, `{error: {code, message, details?, error_id?, …}}`: what a runtime's error dialect
 * re-shapes. A 500 is logged here with its error id.
 */
export function standardError(exception: unknown, at: ErrorSite): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  if (exception instanceof PlinthException) {
    const error: ErrorBody['error'] = { code: exception.code, message: exception.message, ...exception.fields };
    if (exception.details !== undefined) error.details = exception.details;
    return { status: exception.status, body: { error }, headers: exception.headers };
  }
  // Nest wraps body-parser's http-errors in an HttpException with the original as `cause`.
  const bodyParser = asBodyParserError(exception instanceof HttpException ? (exception.cause ?? exception) : exception);
  if (bodyParser) {
    if (bodyParser.type === 'entity.too.large') {
      return simple(ErrorCode.PayloadTooLarge, `Request body is larger than the limit of ${bodyParser.limit} bytes`);
    }
    if (bodyParser.type === 'entity.parse.failed') return simple(ErrorCode.MalformedJson, 'Request body is not valid JSON');
    if (bodyParser.type === 'encoding.unsupported' || bodyParser.type === 'charset.unsupported') {
      return simple(ErrorCode.UnsupportedMediaType, 'Unsupported content encoding or charset');
    }
    if (bodyParser.status >= 400 && bodyParser.status < 500) {
      return { status: bodyParser.status, body: { error: { code: ErrorCode.BadRequest, message: 'The request body could not be read' } } };
    }
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status < 500) {
      const code = HTTP_CODES[status] ?? ErrorCode.BadRequest;
      const message = status === 404 ? `Cannot ${at.method} ${at.path}` : exception.message;
      return { status, body: { error: { code, message } } };
    }
  }
  const errorId = randomUUID();
  logger.error({ err: exception, errorId, path: at.path }, `Unhandled error ${errorId}`);
  return {
    status: 500,
    body: { error: { code: ErrorCode.Internal, message: 'An unexpected error occurred', error_id: errorId } },
  };
}

function simple(code: ErrorCode, message: string) {
  return { status: ERROR_STATUS[code], body: { error: { code, message } } };
}

interface BodyParserError {
  /** body-parser's own errors have one; a stream error it passes on (a corrupt gzip body's zlib error) has none. */
  type?: string;
  status: number;
  limit?: number;
}

/** An http-errors error as body-parser makes them: a status and `expose` (set by http-errors), and a type or status 400. */
function asBodyParserError(e: unknown): BodyParserError | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const candidate = e as Partial<BodyParserError> & { expose?: boolean };
  if (typeof candidate.status !== 'number' || candidate.expose === undefined) return undefined;
  // Untyped, only its 400 for a body stream that failed (others, like serve-static's 404s, aren't body errors).
  if (typeof candidate.type === 'string' || (candidate.type === undefined && candidate.status === 400)) return candidate as BodyParserError;
  return undefined;
}
