import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { EntityManager, IsNull, MoreThan, Repository } from 'typeorm';
import { hashToken, PlinthException, RequestMeta } from '@plinth/common';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { EmailSecrets, safeEqual, VERIFICATION_TOKEN_PREFIX } from '../tokens/email-secrets';
import { ConsoleAuthLimits } from './console-auth-limits';
import { EmailVerificationEntity } from './email-verification.entity';
import { SEND_VERIFICATION_EMAIL_JOB, SendVerificationEmailData } from './send-verification-email.job';
import { UserEntity } from './user.entity';

/** How long an emailed code and link work. */
export const VERIFICATION_TTL_MS = 30 * 60_000;
/** Wrong codes a verification email survives; then its code is dead (its link still works until it expires). */
export const VERIFICATION_MAX_ATTEMPTS = 5;

export type LinkOutcome = { status: 'verified'; email: string } | { status: 'invalid' };

const invalidCode = () => PlinthException.badRequest('Invalid or expired verification code');

/**
 * Proves a console account receives mail at its address: a 6-digit code (typed into the console, a few tries
 * per code, per account and per IP) and a link (a 256-bit token), both in one email sent through the outbox.
 * A new email replaces the previous one's code and link. Verifying again is harmless.
 */
@Injectable()
export class EmailVerificationService {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly secrets: EmailSecrets,
    private readonly limits: ConsoleAuthLimits,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  /** Issues a verification email for `user` in the caller's transaction (earlier codes and links stop working). */
  async issue(m: EntityManager, user: { id: string; email: string }): Promise<void> {
    const now = this.clock.now();
    await m.update(EmailVerificationEntity, { userId: user.id, consumedAt: IsNull(), expiresAt: MoreThan(now) }, { expiresAt: now });
    const id = randomUUID();
    const code = this.secrets.verificationCode(id);
    await m.insert(EmailVerificationEntity, {
      id,
      userId: user.id,
      email: user.email.toLowerCase(),
      codeHash: this.secrets.codeHash(id, code),
      tokenHash: hashToken(this.secrets.verificationToken(id)),
      attempts: 0,
      createdAt: now,
      expiresAt: new Date(now.getTime() + VERIFICATION_TTL_MS),
      consumedAt: null,
    });
    await this.outbox.enqueue<SendVerificationEmailData>(m, {
      queue: QUEUES.email,
      name: SEND_VERIFICATION_EMAIL_JOB,
      data: { orgId: null, userId: user.id, verificationId: id },
    });
  }

  /** `POST /v1/auth/verify`: the same 400 for an unknown address, a wrong, expired or exhausted code. */
  async verifyCode(email: string, code: string, meta: RequestMeta): Promise<{ email: string; email_verified: true }> {
    const ticket = await this.limits.beforeVerify(email, meta.ip);
    const user = await this.users.createQueryBuilder('u').where('lower(u.email) = lower(:email)', { email: email.trim() }).getOne();
    if (!user) throw invalidCode();
    const outcome = await this.users.manager.transaction(async (m) => {
      const row = await m.findOne(EmailVerificationEntity, {
        where: { userId: user.id },
        order: { createdAt: 'DESC' },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) return 'invalid' as const;
      const matches = safeEqual(row.codeHash, this.secrets.codeHash(row.id, code));
      if (row.consumedAt) return matches ? ('verified' as const) : ('invalid' as const);
      if (row.attempts >= VERIFICATION_MAX_ATTEMPTS || row.expiresAt.getTime() <= this.clock.nowMs()) return 'invalid' as const;
      if (!matches) {
        await m.increment(EmailVerificationEntity, { id: row.id }, 'attempts', 1);
        return 'invalid' as const;
      }
      return (await this.consume(m, row)) ? ('verified' as const) : ('invalid' as const);
    });
    if (outcome === 'invalid') throw invalidCode();
    await this.limits.succeeded(ticket);
    return { email: user.email, email_verified: true };
  }

  /** `GET /v1/auth/verify?token=…`: the link of the email. A used link answers "verified" again. */
  async verifyLink(token: string): Promise<LinkOutcome> {
    if (!token.startsWith(`${VERIFICATION_TOKEN_PREFIX}_`) || token.length > 100) return { status: 'invalid' };
    return this.users.manager.transaction(async (m): Promise<LinkOutcome> => {
      const row = await m.findOne(EmailVerificationEntity, { where: { tokenHash: hashToken(token) }, lock: { mode: 'pessimistic_write' } });
      if (!row) return { status: 'invalid' };
      if (row.consumedAt) return { status: 'verified', email: row.email };
      if (row.expiresAt.getTime() <= this.clock.nowMs()) return { status: 'invalid' };
      return (await this.consume(m, row)) ? { status: 'verified', email: row.email } : { status: 'invalid' };
    });
  }

  /** `POST /v1/auth/verify/resend`: the same answer whether the address has an account, a verified one, or none. */
  async resend(email: string, meta: RequestMeta): Promise<void> {
    await this.limits.beforeResend(email, meta.ip);
    const user = await this.users.createQueryBuilder('u').where('lower(u.email) = lower(:email)', { email: email.trim() }).getOne();
    if (!user || user.emailVerifiedAt) return;
    await this.users.manager.transaction((m) => this.issue(m, user));
  }

  /** Marks the row used and its account verified, if the account still has the address the row was sent to. */
  private async consume(m: EntityManager, row: EmailVerificationEntity): Promise<boolean> {
    const now = this.clock.now();
    await m.update(EmailVerificationEntity, { id: row.id }, { consumedAt: now });
    const res = await m
      .createQueryBuilder()
      .update(UserEntity)
      .set({ emailVerifiedAt: () => `COALESCE(email_verified_at, :now)` })
      .setParameter('now', now)
      .where('id = :id AND lower(email) = :email', { id: row.userId, email: row.email })
      .execute();
    return (res.affected ?? 0) > 0;
  }
}
