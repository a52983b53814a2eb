export { dummyHash, hashPassword, passwordNeedsRehash, verifyPassword } from '@plinth/common';

const COMMON = new Set([
  'password', 'password1', 'password123', '123456789', '1234567890', 'qwertyuiop', 'iloveyou1', 'letmein123',
  'welcome123', 'admin12345', 'changeme123', 'passw0rd!', 'p@ssw0rd', 'p@ssword1', 'qwerty123', 'abc123456',
]);

/** Returns why a password is too weak, or null when it is acceptable. */
export function passwordWeakness(password: string, email?: string): string | null {
  if (password.length < 8) return 'must be at least 8 characters';
  if (password.length > 128) return 'must be at most 128 characters';
  if (COMMON.has(password.toLowerCase())) return 'is too common';
  if (new Set(password).size < 4) return 'has too few distinct characters';
  const local = email?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 4 && password.toLowerCase().includes(local)) return 'must not contain your email address';
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (password.length < 16 && classes < 3) {
    return 'must mix at least three of lowercase, uppercase, digits and symbols (or be 16+ characters)';
  }
  return null;
}
