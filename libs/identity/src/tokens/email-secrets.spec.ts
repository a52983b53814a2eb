import type { PlinthConfig } from '@plinth/config';
import { EmailSecrets } from './email-secrets';

describe(EmailSecrets.name, () => {
  const sut = new EmailSecrets({ secret: 's'.repeat(40) } as PlinthConfig);
  const other = new EmailSecrets({ secret: 't'.repeat(40) } as PlinthConfig);
  const id = '6b0c1c8e-1d4f-4a59-9d1c-6a1f3c2b0e11';

  it('derives the same secrets for one id every time (a retried email sends the same), and others for another id or secret', () => {
    expect(sut.verificationCode(id)).toMatch(/^[0-9]{6}$/);
    expect(sut.verificationCode(id)).toBe(sut.verificationCode(id));
    expect(sut.verificationToken(id)).toMatch(/^pl_ev_[A-Za-z0-9_-]{43}$/);
    expect(sut.invitationToken(id)).toMatch(/^pl_inv_[A-Za-z0-9_-]{43}$/);
    expect(sut.verificationToken(id)).not.toBe(other.verificationToken(id));
    expect(sut.invitationToken(id)).not.toBe(sut.invitationToken(id.replace('e11', 'e12')));
  });

  it('matches invitation tokens exactly and keys the code hash', () => {
    expect(sut.invitationTokenMatches(id, sut.invitationToken(id))).toBe(true);
    expect(sut.invitationTokenMatches(id, other.invitationToken(id))).toBe(false);
    expect(sut.invitationTokenMatches(id, id)).toBe(false);
    const code = sut.verificationCode(id);
    expect(sut.codeHash(id, code)).not.toBe(other.codeHash(id, code));
    expect(sut.codeHash(id, code)).not.toContain(code);
  });
});
