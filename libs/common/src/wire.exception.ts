import type { Request } from 'express';

/**
 * An error that already is its wire response, in a runtime's own dialect (GoTrue, PostgREST, …): the
 * exception filter sends its status, body and headers unchanged.
 */
export class WireException extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(`HTTP ${status}`);
    this.name = 'WireException';
  }
}

/** An error as the filter renders it by default (`{error:{code,message}}`), offered to a dialect to re-shape. */
export interface StandardError {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  /** Set on 500s: the id that is in the log. */
  errorId?: string;
}

/**
 * A runtime whose routes speak another error dialect. It re-shapes the errors raised on its routes before
 * its own code runs (body parsing, the gateway guard, validation pipes); its own errors are WireExceptions.
 */
export interface ErrorDialect {
  matches(req: Request): boolean;
  render(error: StandardError, req: Request): WireException;
}

const dialects: ErrorDialect[] = [];

/** Registers a dialect (idempotent; runtimes call it at module init). */
export function registerErrorDialect(dialect: ErrorDialect): void {
  if (!dialects.includes(dialect)) dialects.push(dialect);
}

/** The dialect claiming this request, if any. */
export function errorDialectFor(req: Request): ErrorDialect | undefined {
  return dialects.find((d) => d.matches(req));
}
