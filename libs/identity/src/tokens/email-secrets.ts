import { Inject, Injectable } from '@nestjs/common';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

export const VERIFICATION_TOKEN_PREFIX = 'pl_ev';
export const INVITATION_TOKEN_PREFIX = 'pl_inv';

/**
 * The secrets Plinth emails to console users (verification codes and links, invitation tokens), derived from
 * PLINTH_SECRET and the id of the row they belong to. The outbox job that sends an email derives them again, so
 * they are never written anywhere (not in the outbox's job data, not in a table), every retry of a job sends the
 * same ones, and only the mailbox — or whoever holds PLINTH_SECRET — can know them.
 */
@Injectable()
export class EmailSecrets {
  private readonly key: Buffer;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.key = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'console-email-secrets', 32));
  }

  /** The 6-digit code of a verification email (48 bits of the MAC mod 10^6: no measurable bias). */
  verificationCode(verificationId: string): string {
    const n = this.mac(`verification-code:${verificationId}`).readUIntBE(0, 6) % 1_000_000;
    return n.toString().padStart(6, '0');
  }

  /** The link token of a verification email: 256 bits. */
  verificationToken(verificationId: string): string {
    return `${VERIFICATION_TOKEN_PREFIX}_${this.mac(`verification-token:${verificationId}`).toString('base64url')}`;
  }

  /** What a verification row stores for its code: keyed, so 10^6 candidates can't be tried offline. */
  codeHash(verificationId: string, code: string): string {
    return this.mac(`verification-code-hash:${verificationId}:${code}`).toString('hex');
  }

  /** The secret an invitation email carries; accepting needs it (the invitation id alone is not enough). */
  invitationToken(invitationId: string): string {
    return `${INVITATION_TOKEN_PREFIX}_${this.mac(`invitation:${invitationId}`).toString('base64url')}`;
  }

  invitationTokenMatches(invitationId: string, token: string): boolean {
    return safeEqual(this.invitationToken(invitationId), token);
  }

  private mac(what: string): Buffer {
    return createHmac('sha256', this.key).update(what).digest();
  }
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
