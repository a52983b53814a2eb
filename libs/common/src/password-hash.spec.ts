import { dummyHash, hashPassword, passwordNeedsRehash, PASSWORD_HASH_PARAMS, verifyPassword } from './password-hash';

/** Hashes of 'Corr3ct-Horse' stored before the setting changed: @node-rs/argon2 and libsodium at m=19456, t=2, p=1. */
const STORED = {
  nodeRs: '$argon2id$v=19$m=19456,t=2,p=1$0yabyqK2xqzvtm2XECR77Q$VIabMynXOS0Ni897i//bl42y60GdFyaNGmVf9DyHH5g',
  libsodium: '$argon2id$v=19$m=19456,t=2,p=1$X+CRCx0/50t+uaSV9jxKug$7snStwra5ImGk1YoDMGw62Rhy4e8jfgjoTmeW2d1LZk',
};

describe('password hashing', () => {
  it('hashes to an argon2id PHC string at the current OWASP setting, salted per hash', async () => {
    const a = await hashPassword('Corr3ct-Horse');
    const b = await hashPassword('Corr3ct-Horse');
    expect(PASSWORD_HASH_PARAMS).toBe('m=7168,t=5,p=1');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=7168,t=5,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword(a, 'Corr3ct-Horse')).toBe(true);
    expect(await verifyPassword(a, 'Corr3ct-Horsf')).toBe(false);
    expect(passwordNeedsRehash(a)).toBe(false);
  });

  it.each(Object.entries(STORED))('verifies a hash stored at the previous setting (%s), reading its parameters from it', async (_by, stored) => {
    expect(await verifyPassword(stored, 'Corr3ct-Horse')).toBe(true);
    expect(await verifyPassword(stored, 'Corr3ct-Horsf')).toBe(false);
    expect(await verifyPassword(stored, '')).toBe(false);
    expect(passwordNeedsRehash(stored)).toBe(true);
  });

  it('returns false for anything that is not an argon2 hash', async () => {
    for (const notAHash of ['', 'not-a-hash', 'Corr3ct-Horse', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy', '$argon2id$v=19$m=7168,t=5,p=1$broken']) {
      expect(await verifyPassword(notAHash, 'Corr3ct-Horse')).toBe(false);
    }
  });

  it('keeps one dummy hash at the current setting for unknown accounts', async () => {
    const d = await dummyHash();
    expect(await dummyHash()).toBe(d);
    expect(passwordNeedsRehash(d)).toBe(false);
    expect(await verifyPassword(d, 'Corr3ct-Horse')).toBe(false);
  });
});
