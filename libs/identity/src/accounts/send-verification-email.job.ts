import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobContext, JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { emailVerificationEmail, PlatformMailer } from '@plinth/mail';
import { EmailSecrets } from '../tokens/email-secrets';
import { EmailVerificationsRepository } from './email-verifications.repository';

export const SEND_VERIFICATION_EMAIL_JOB = 'identity.verification-email';

export interface SendVerificationEmailData extends JobData {
  /** Always null: an account's address belongs to no org. */
  orgId: null;
  userId: string;
  verificationId: string;
}

/**
 * Emails a console account its verification code and link, enqueued in the transaction that issued them
 * (sign-up, resend). Both are derived again here from the verification id ({@link EmailSecrets}), so the job data
 * holds no secret. Not sent when the verification was used, replaced or expired before the job runs, or the
 * account's address changed. At-least-once: a retry after a crash sends the same code, link and Message-ID
 * (from the outbox job id).
 */
@Injectable()
export class SendVerificationEmailJob implements JobHandler<SendVerificationEmailData>, OnModuleInit {
  readonly queue = QUEUES.email;
  readonly name = SEND_VERIFICATION_EMAIL_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly verifications: EmailVerificationsRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly mailer: PlatformMailer,
    private readonly secrets: EmailSecrets,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(d: SendVerificationEmailData, ctx: JobContext): Promise<void> {
    const v = await this.verifications.toSend(d.verificationId, d.userId);
    if (!v || v.consumed_at || v.expires_at.getTime() <= this.clock.nowMs() || v.current_email.toLowerCase() !== v.email) return;
    const token = this.secrets.verificationToken(d.verificationId);
    const mail = emailVerificationEmail({
      email: v.email,
      code: this.secrets.verificationCode(d.verificationId),
      verifyUrl: `${this.config.http.publicUrl}/v1/auth/verify?token=${encodeURIComponent(token)}`,
      expiresAt: v.expires_at,
    });
    await this.mailer.send({ ...mail, to: v.email, messageId: this.mailer.messageId('email-verification', ctx.id), tag: 'email-verification' });
  }
}
