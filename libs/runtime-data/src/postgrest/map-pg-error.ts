import { Errors, PostgrestError, permissionStatus } from './postgrest.error';

/** The fields of a node-postgres `DatabaseError` we use; anything else thrown is treated as an internal error. */
interface PgErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  hint?: unknown;
}

export interface MapPgErrorOptions {
  /** Decides 401 vs 403 for 42501. */
  anonymous?: boolean;
  /** The tenant schema, scrubbed from messages so its name never reaches the caller. */
  schema?: string;
  /** The table of the request, named in policy-violation messages. */
  table?: string;
}

/**
 * The marker a write statement raises (through a failing integer cast) when a written row breaks the create/update
 * policy. Core SQL can't raise a custom error without a function, and a failing cast aborts the whole statement.
 */
export const POLICY_VIOLATION_MARKER = 'pgrst_policy_violation';

/** PostgreSQL error classes PostgREST answers with a given status; anything not listed is 400 (as in PostgREST). */
function statusFor(code: string, anonymous: boolean): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    '53400': 500,
    P0001: 400,
    '42883': 404,
    '42P01': 404,
    '42P17': 500,
  };
  if (code in exact) return exact[code];
  if (code === '42501') return permissionStatus(anonymous);
  const byClass: Record<string, number> = {
    '08': 503, '09': 500, '0L': 403, '0P': 403, '25': 500, '28': 403, '2D': 500, '38': 500, '39': 500, '3B': 500,
    '40': 500, '53': 503, '54': 500, '55': 500, '57': 500, '58': 500, F0: 500, HV: 500, P0: 500, XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

/** Server-side failures whose text is useful to the caller; other 5xx messages are replaced by a generic one. */
const SHOWN_5XX = new Set(['57014', '40001', '40P01', '53300']);

function scrub(text: string, schema: string | undefined): string {
  let out = text;
  if (schema) out = out.split(`"${schema}".`).join('').split(`${schema}.`).join('');
  // Any other tenant-looking schema qualifier, in case one appears in a message (it shouldn't).
  return out.replace(/"?t_[a-z0-9]{4,32}"?\./g, '');
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/**
 * Maps an error thrown while running a generated statement to the PostgrestError PostgREST would send.
 * PostgrestErrors pass through; non-database errors become an opaque 500 (the caller logs the original).
 */
export function mapPgError(err: unknown, opts: MapPgErrorOptions = {}): PostgrestError {
  if (err instanceof PostgrestError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as PgErrorLike;
  const code = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null;
  if (!code) return new PostgrestError(500, 'PGRST000', 'Internal server error');
  const message = str(e.message) ?? '';
  if (message.includes(POLICY_VIOLATION_MARKER)) return Errors.policyViolation(opts.table, opts.anonymous ?? false);

  const status = statusFor(code, opts.anonymous ?? false);
  if (status >= 500 && !SHOWN_5XX.has(code)) return new PostgrestError(status, code, 'Internal server error');
  const detail = str(e.detail);
  const hint = str(e.hint);
  return new PostgrestError(
    status,
    code,
    scrub(message, opts.schema),
    detail === null ? null : scrub(detail, opts.schema),
    hint === null ? null : scrub(hint, opts.schema),
  );
}
