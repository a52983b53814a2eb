import { hashPassword, passwordWeakness, verifyPassword } from './password';

describe('password', () => {
  it('accepts a mixed password and rejects weak ones with a reason', () => {
    expect(passwordWeakness('Corr3ct-Horse')).toBeNull();
    expect(passwordWeakness('correct horse battery staple')).toBeNull();
    expect(passwordWeakness('short1A')).toMatch(/at least 8/);
    expect(passwordWeakness('Password123')).toMatch(/too common/);
    expect(passwordWeakness('aaaaaaaaaaaa')).toMatch(/distinct/);
    expect(passwordWeakness('alllowercase')).toMatch(/mix/);
    expect(passwordWeakness('Alice2024!x', 'alice@example.com')).toMatch(/email/);
    expect(passwordWeakness('x'.repeat(129))).toMatch(/at most 128/);
  });

  it('hashes with argon2id and verifies', async () => {
    const h = await hashPassword('Corr3ct-Horse');
    expect(h.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(h, 'Corr3ct-Horse')).toBe(true);
    expect(await verifyPassword(h, 'Corr3ct-Horsf')).toBe(false);
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
  });
});
