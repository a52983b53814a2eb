import { POLICY_VIOLATION_MARKER, mapPgError } from './map-pg-error';
import { PostgrestError } from './postgrest.error';

const pg = (code: string, message = 'm', detail?: string, hint?: string) => Object.assign(new Error(message), { code, detail, hint });

describe(mapPgError.name, () => {
  it.each([
    ['23505', 409],
    ['23503', 409],
    ['23502', 400],
    ['23514', 400],
    ['22P02', 400],
    ['22001', 400],
    ['42P01', 404],
    ['42883', 404],
    ['25006', 405],
    ['08006', 503],
    ['53300', 503],
    ['57014', 500],
    ['40001', 500],
    ['P0001', 400],
    ['XX000', 500],
  ])('maps %s to %i', (code, status) => {
    expect(mapPgError(pg(code))).toMatchObject({ code, status });
  });

  it('keeps message, details and hint, with null for absent ones', () => {
    expect(mapPgError(pg('23505', 'duplicate key value violates unique constraint "users_email_key"', 'Key (email)=(a) already exists.')).toJSON()).toEqual({
      code: '23505',
      message: 'duplicate key value violates unique constraint "users_email_key"',
      details: 'Key (email)=(a) already exists.',
      hint: null,
    });
  });

  it('42501 is 401 for anonymous callers and 403 otherwise', () => {
    expect(mapPgError(pg('42501'), { anonymous: true }).status).toBe(401);
    expect(mapPgError(pg('42501')).status).toBe(403);
  });

  it('recognises the policy guard', () => {
    const err = pg('22P02', `invalid input syntax for type integer: "${POLICY_VIOLATION_MARKER} 2"`);
    expect(mapPgError(err, { table: 'posts', anonymous: true })).toMatchObject({ status: 401, code: '42501', message: 'new row violates row-level security policy for table "posts"' });
  });

  it('scrubs tenant schema names and hides internal error text', () => {
    const err = mapPgError(pg('42P01', 'relation "t_abc123.x" does not exist', 'see "t_zzzz99".y'), { schema: 't_abc123' });
    expect(err.message).toBe('relation "x" does not exist');
    expect(err.details).toBe('see y');
    expect(mapPgError(pg('XX000', 'could not open file base/123/456: secret path')).message).toBe('Internal server error');
    expect(mapPgError(pg('57014', 'canceling statement due to statement timeout')).message).toBe('canceling statement due to statement timeout');
  });

  it('passes PostgrestErrors through and turns anything else into an opaque 500', () => {
    const e = new PostgrestError(400, 'PGRST100', 'x');
    expect(mapPgError(e)).toBe(e);
    expect(mapPgError(new TypeError('boom'))).toMatchObject({ status: 500, code: 'PGRST000', message: 'Internal server error' });
    expect(mapPgError('string')).toMatchObject({ status: 500 });
    expect(mapPgError(null)).toMatchObject({ status: 500 });
  });
});
