import { generateToken } from '@plinth/common';
import { KEY_PREFIX, keyTypeOf } from './key-format';

describe('keyTypeOf', () => {
  it('recognises each type by prefix and checksum', () => {
    for (const [type, prefix] of Object.entries(KEY_PREFIX)) {
      const key = generateToken(prefix);
      expect(key).toMatch(new RegExp(`^${prefix}_[0-9A-Za-z]{38}$`));
      expect(keyTypeOf(key)).toBe(type);
    }
  });

  it('fails the checksum after any one-character change', () => {
    const key = generateToken(KEY_PREFIX.secret);
    const body = KEY_PREFIX.secret.length + 1;
    for (let i = body; i < key.length; i++) {
      const c = key[i] === 'a' ? 'b' : 'a';
      expect(keyTypeOf(key.slice(0, i) + c + key.slice(i + 1))).toBeNull();
    }
  });

  it('rejects garbage and other prefixes', () => {
    expect(keyTypeOf('')).toBeNull();
    expect(keyTypeOf('pl_sk_short')).toBeNull();
    expect(keyTypeOf("pl_pk_' OR 1=1 --")).toBeNull();
    expect(keyTypeOf(generateToken('pl_pat'))).toBeNull();
  });
});
