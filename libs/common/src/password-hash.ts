import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * argon2id at m=7 MiB, t=5, p=1: the last of the five settings OWASP's cheat sheet rates equivalent (the first is
 * m=19 MiB, t=2). It is the cheapest of them here (test/bench/argon2.bench.ts: ~8-10 ms a verify against ~12-13 ms
 * at 19 MiB, less memory for the kernel to hand out and zero per hash), which is what keeps password sign-in above
 * 50/s per core. @node-rs/argon2 measured fastest of the npm implementations (node-argon2, sodium-native,
 * hash-wasm) at every setting. Used for console accounts and every project's end users alike; hashing runs on
 * libuv's thread pool, off the event loop.
 */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 7168, timeCost: 5, parallelism: 1 } as const;

/** The setting new hashes get, as it appears in their PHC string. */
export const PASSWORD_HASH_PARAMS = `m=${ARGON2.memoryCost},t=${ARGON2.timeCost},p=${ARGON2.parallelism}`;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2);
}

/**
 * False for a wrong password and for anything that isn't an argon2 hash. The setting is read from the stored PHC
 * string, so hashes made at an earlier setting (or by another argon2 implementation) keep verifying.
 */
export async function verifyPassword(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
  } catch {
    return false;
  }
}

/** True when a hash that just verified was made at another setting and should be replaced with a fresh one. */
export function passwordNeedsRehash(hashed: string): boolean {
  const [, alg, version, params] = hashed.split('$');
  return alg !== 'argon2id' || version !== 'v=19' || params !== PASSWORD_HASH_PARAMS;
}

/** A valid hash of a random password, verified against when an account doesn't exist so timing reveals nothing. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(`dummy-${Math.random()}`);
  return dummy;
}
