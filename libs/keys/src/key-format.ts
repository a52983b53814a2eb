import { isWellFormedToken } from '@plinth/common';
import type { KeyType } from './api-key.entity';

/** Type prefixes, so a leaked key says what it is and a scanner can match it. */
export const KEY_PREFIX: Record<KeyType, string> = {
  publishable: 'pl_pk',
  secret: 'pl_sk',
  restricted: 'pl_rk',
};

/** The key type a string claims by prefix, when its shape and checksum are valid; otherwise null. */
export function keyTypeOf(key: string): KeyType | null {
  for (const [type, prefix] of Object.entries(KEY_PREFIX) as Array<[KeyType, string]>) {
    if (key.startsWith(`${prefix}_`)) return isWellFormedToken(key, prefix) ? type : null;
  }
  return null;
}
