import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * argon2id at OWASP's first recommended setting (m=19 MiB, t=2, p=1), for console accounts and every project's
 * end users alike. OWASP's other settings (12 MiB/t=3, 9 MiB/t=4, 7 MiB/t=5) are meant to cost the same and
 * measure within noise of it here. Hashing runs on libuv's thread pool, off the event loop.
 */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

/** False for a wrong password and for anything that isn't an argon2 hash. */
export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

/** A valid hash of a random password, verified against when an account doesn't exist so timing reveals nothing. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`dummy-${Math.random()}`);
  return dummy;
}
