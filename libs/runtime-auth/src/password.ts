import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the console's setting (libs/identity): OWASP's first recommendation, m=19 MiB, t=2, p=1, which
 * keeps password sign-in well above 50/s per core. Hashing runs on libuv's thread pool, off the event loop.
 */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** Verified against when an account doesn't exist (or has no password), so timing doesn't tell. */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`dummy-${Math.random()}`);
  return dummy;
}

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
