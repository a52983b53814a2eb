import { Injectable } from '@nestjs/common';
import { ErrorSite, standardError, WireException } from '@plinth/common';

/** An error in Plinth's terms, offered to a runtime's dialect to re-shape. */
export interface StandardError {
  status: number;
  /** Plinth's error code (`invalid_api_key`, `rate_limited`, `payload_too_large`, …). */
  code: string;
  message: string;
  headers?: Record<string, string>;
  /** The error's details and any extra fields (`meter`, `limit`, …), when it has them. */
  details?: unknown;
  fields?: Record<string, unknown>;
  /** Set on 500s: the id that is in the log. */
  errorId?: string;
}

/** How a runtime's clients expect errors: PostgREST's `{code,message,details,hint}`, GoTrue's `{code,error_code,msg}`, … */
export interface ErrorDialect {
  render(error: StandardError): WireException;
}

/** What goes on the wire for an error. */
export interface RenderedError {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Error dialects by runtime name. The edge renders every error of a tenant request with the addressed runtime's
 * dialect, its own (unknown route, key, admission, body) as well as the runtime's; a runtime's own WireExceptions
 * are already in its dialect and go out unchanged. A runtime without one (or an unknown runtime) gets Plinth's
 * `{"error": {…}}`.
 */
@Injectable()
export class ErrorDialects {
  private readonly byRuntime = new Map<string, ErrorDialect>();

  register(runtime: string, dialect: ErrorDialect): void {
    if (this.byRuntime.has(runtime)) throw new Error(`Error dialect for "${runtime}" registered twice`);
    this.byRuntime.set(runtime, dialect);
  }

  render(runtime: string | undefined, exception: unknown, at: ErrorSite): RenderedError {
    if (exception instanceof WireException) return { status: exception.status, body: exception.body, headers: exception.headers };
    const standard = standardError(exception, at);
    const dialect = runtime === undefined ? undefined : this.byRuntime.get(runtime);
    if (dialect === undefined) return standard;
    const { code, message, details, error_id, ...fields } = standard.body.error;
    const wire = dialect.render({
      status: standard.status,
      code,
      message,
      headers: standard.headers,
      ...(details !== undefined ? { details } : {}),
      ...(Object.keys(fields).length ? { fields } : {}),
      ...(error_id !== undefined ? { errorId: error_id } : {}),
    });
    return { status: wire.status, body: wire.body, headers: { ...standard.headers, ...wire.headers } };
  }
}
