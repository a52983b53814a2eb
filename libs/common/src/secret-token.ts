import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;

/**
 * Secrets shown once to a customer (API keys, personal access tokens): `<prefix>_<32 base62>` plus a
 * 6-character base62 CRC32 of everything before it, so a secret scanner can recognise and validate one
 * offline, and a typo is refused before any lookup. Only {@link hashToken} of the whole string is stored.
 */
export function generateToken(prefix: string): string {
  const bytes = randomBytes(BODY_LENGTH);
  let body = '';
  for (const b of bytes) body += ALPHABET[b % 62];
  const head = `${prefix}_${body}`;
  return head + checksum(head);
}

/** True when the token has the given prefix, the right shape and a matching checksum. */
export function isWellFormedToken(token: string, prefix: string): boolean {
  if (token.length !== prefix.length + 1 + BODY_LENGTH + CHECKSUM_LENGTH) return false;
  if (!token.startsWith(`${prefix}_`)) return false;
  const head = token.slice(0, token.length - CHECKSUM_LENGTH);
  if (!/^[0-9A-Za-z]+$/.test(token.slice(prefix.length + 1))) return false;
  const expected = checksum(head);
  const actual = token.slice(token.length - CHECKSUM_LENGTH);
  return timingSafeEqual(Buffer.from(expected), Buffer.from(actual));
}

/**
 * SHA-256 is enough: tokens carry 190 bits of randomness, so there is nothing to brute-force. One-shot `hash` (no Hash
 * object): this runs on every tenant request.
 */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

function checksum(s: string): string {
  let n = crc32(Buffer.from(s));
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
