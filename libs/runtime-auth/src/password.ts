export { dummyHash, hashPassword, passwordNeedsRehash, verifyPassword } from '@plinth/common';

export type PasswordRequirement = 'none' | 'letters_digits' | 'lower_upper_digits' | 'lower_upper_digits_symbols';

/** GoTrue's weak-password reasons (`length`, `characters`) for a password under a project's policy. */
export function weakPasswordReasons(password: string, minLength: number, required: PasswordRequirement): string[] {
  const reasons: string[] = [];
  if (password.length < minLength) reasons.push('length');
  const has = (r: RegExp) => r.test(password);
  const ok =
    required === 'none' ||
    (required === 'letters_digits' && has(/[A-Za-z]/) && has(/[0-9]/)) ||
    (required === 'lower_upper_digits' && has(/[a-z]/) && has(/[A-Z]/) && has(/[0-9]/)) ||
    (required === 'lower_upper_digits_symbols' && has(/[a-z]/) && has(/[A-Z]/) && has(/[0-9]/) && has(/[^A-Za-z0-9]/));
  if (!ok) reasons.push('characters');
  return reasons;
}
