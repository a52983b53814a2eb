/**
 * Stripe's error envelope: `{ error: { type, code?, message, param?, ... } }` plus an HTTP status the SDK maps to
 * its error classes (`Error.generateV1Error` in stripe-node: 400/404 -> StripeInvalidRequestError, or
 * StripeIdempotencyError when type is `idempotency_error`; 401 -> StripeAuthenticationError; 402 -> StripeCardError;
 * 429 -> StripeRateLimitError; anything else -> StripeAPIError).
 */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    /** Extra response headers, e.g. `Stripe-Should-Retry: false`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }

  static invalid(message: string, param?: string, code?: string): StripeApiError {
    return new StripeApiError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });
  }

  static missingParam(param: string): StripeApiError {
    return StripeApiError.invalid(`Missing required param: ${param}.`, param, 'parameter_missing');
  }

  static invalidParam(param: string, message: string): StripeApiError {
    return StripeApiError.invalid(message, param, 'parameter_invalid_string');
  }

  /** Stripe: `404 {type: invalid_request_error, code: resource_missing, param: 'id', message: "No such customer: 'cus_x'"}`. */
  static missing(resource: string, id: string, param = 'id'): StripeApiError {
    return new StripeApiError(404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${resource}: '${id}'` });
  }
}
