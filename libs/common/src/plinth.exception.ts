/** Error codes shared by every area; the exception filter maps each to one HTTP status. */
export enum ErrorCode {
  ValidationFailed = 'validation_failed',
  MalformedJson = 'malformed_json',
  BadRequest = 'bad_request',
  Unauthorized = 'unauthorized',
  InvalidApiKey = 'invalid_api_key',
  Forbidden = 'forbidden',
  NotFound = 'not_found',
  Conflict = 'conflict',
  PayloadTooLarge = 'payload_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  RateLimited = 'rate_limited',
  /** Too many of a project's requests already hold or wait for tenant database connections. */
  ConcurrencyLimited = 'concurrency_limited',
  QuotaExceeded = 'quota_exceeded',
  PaymentRequired = 'payment_required',
  Internal = 'internal_error',
}

export const ERROR_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.MalformedJson]: 400,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.InvalidApiKey]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.ConcurrencyLimited]: 429,
  [ErrorCode.QuotaExceeded]: 402,
  [ErrorCode.PaymentRequired]: 402,
  [ErrorCode.Internal]: 500,
};

/** A domain error with a code and a message that is safe to show the caller. */
export class PlinthException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
    /** Extra top-level fields of the error object (e.g. `meter`, `limit`, `resets_at` of a 402). */
    readonly fields?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PlinthException';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  static notFound(what: string): PlinthException {
    return new PlinthException(ErrorCode.NotFound, `${what} not found`);
  }
  static forbidden(message = 'You do not have permission to do this'): PlinthException {
    return new PlinthException(ErrorCode.Forbidden, message);
  }
  static conflict(message: string, details?: unknown): PlinthException {
    return new PlinthException(ErrorCode.Conflict, message, details);
  }
  static badRequest(message: string, details?: unknown): PlinthException {
    return new PlinthException(ErrorCode.BadRequest, message, details);
  }
  static unauthorized(message = 'Authentication required'): PlinthException {
    return new PlinthException(ErrorCode.Unauthorized, message);
  }
}
