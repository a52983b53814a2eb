import { WireException } from '@plinth/common';
import type { ErrorDialect, StandardError } from '@plinth/gateway';

/**
 * An error as Supabase Storage answers it: `{statusCode: "<status>", error, message}` (statusCode a string, as
 * storage-js reads it), with Storage's `code` (`NoSuchKey`, `Duplicate`, …) alongside.
 */
export class StorageException extends WireException {
  constructor(status: number, code: string, error: string, message: string, headers?: Record<string, string>) {
    super(status, { statusCode: String(status), code, error, message }, headers);
    this.message = message;
    this.name = 'StorageException';
  }

  static invalid(message: string): StorageException {
    return new StorageException(400, 'InvalidRequest', 'Invalid Input', message);
  }
  static invalidKey(message: string): StorageException {
    return new StorageException(400, 'InvalidKey', 'Invalid Key', message);
  }
  static bucketNotFound(): StorageException {
    return new StorageException(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found');
  }
  static objectNotFound(): StorageException {
    return new StorageException(404, 'NoSuchKey', 'not_found', 'Object not found');
  }
  static duplicate(message = 'The resource already exists'): StorageException {
    return new StorageException(409, 'Duplicate', 'Duplicate', message);
  }
  static bucketNotEmpty(): StorageException {
    return new StorageException(409, 'InvalidRequest', 'Bucket not empty', 'The bucket you tried to delete is not empty');
  }
  static denied(message = 'new row violates row-level security policy'): StorageException {
    return new StorageException(403, 'AccessDenied', 'Unauthorized', message);
  }
  static tooLarge(limit: number): StorageException {
    return new StorageException(413, 'EntityTooLarge', 'Payload too large', `The object exceeded the maximum allowed size (${limit} bytes)`);
  }
  static mimeType(type: string): StorageException {
    return new StorageException(415, 'InvalidMimeType', 'invalid_mime_type', `mime type ${type.slice(0, 100)} is not supported`);
  }
  static signature(message = 'Invalid or expired signature'): StorageException {
    return new StorageException(400, 'InvalidSignature', 'InvalidSignature', message);
  }
  static range(size: number): StorageException {
    return new StorageException(416, 'InvalidRange', 'Invalid Range', 'The requested range is not satisfiable', { 'content-range': `bytes */${size}` });
  }
}

/** Plinth's error codes (raised by the edge: key, admission, body) as Storage names them. */
const STANDARD_TO_STORAGE: Record<string, { code: string; error: string }> = {
  invalid_api_key: { code: 'InvalidJWT', error: 'Unauthorized' },
  unauthorized: { code: 'InvalidJWT', error: 'Unauthorized' },
  forbidden: { code: 'AccessDenied', error: 'Unauthorized' },
  not_found: { code: 'NotFound', error: 'not_found' },
  validation_failed: { code: 'InvalidRequest', error: 'Invalid Input' },
  bad_request: { code: 'InvalidRequest', error: 'Invalid Input' },
  malformed_json: { code: 'InvalidRequest', error: 'Invalid Input' },
  payload_too_large: { code: 'EntityTooLarge', error: 'Payload too large' },
  unsupported_media_type: { code: 'InvalidMimeType', error: 'invalid_mime_type' },
  rate_limited: { code: 'SlowDown', error: 'too_many_requests' },
  concurrency_limited: { code: 'SlowDown', error: 'too_many_requests' },
  quota_exceeded: { code: 'QuotaExceeded', error: 'quota_exceeded' },
  payment_required: { code: 'PaymentRequired', error: 'payment_required' },
  internal_error: { code: 'InternalError', error: 'internal' },
};

/** Renders every error under `/p/:ref/storage/v1` in Storage's shape, whoever raised it (registered with the edge). */
export const STORAGE_DIALECT: ErrorDialect = {
  render: (e: StandardError) => {
    const m = STANDARD_TO_STORAGE[e.code] ?? { code: e.code, error: e.code };
    const body: Record<string, unknown> = { statusCode: String(e.status), code: m.code, error: m.error, message: e.message, ...e.fields };
    if (e.errorId) body.error_id = e.errorId;
    return new WireException(e.status, body, e.headers);
  },
};
