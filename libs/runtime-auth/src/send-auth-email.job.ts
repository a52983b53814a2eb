import { Injectable, OnModuleInit } from '@nestjs/common';
import { OutboundAddressError } from '@plinth/common';
import { JobContext, JobData, JobHandler, JobRegistry, PermanentJobError, QUEUES } from '@plinth/jobs';
import { AuthMailer, EmailTemplate } from './auth-mailer';
import { SecretBox } from './secret-box';

export const SEND_AUTH_EMAIL_JOB = 'auth.send-email';

/** Job data. The code and link are sealed: the outbox keeps rows for a while and must not hold usable secrets. */
export interface SendAuthEmailData extends JobData {
  projectId: string;
  ref: string;
  to: string;
  template: EmailTemplate;
  /** {@link SecretBox.seal} of `{token, tokenHash, confirmationUrl, redirectTo, newEmail?}`. */
  sealed: string;
}

export interface SealedEmailParts {
  token: string;
  tokenHash: string;
  confirmationUrl: string;
  redirectTo: string;
  newEmail?: string;
}

export const emailSealContext = (projectId: string, to: string) => `auth-email:${projectId}:${to}`;

/** Sends one auth email, enqueued through the outbox in the transaction that created its code. */
@Injectable()
export class SendAuthEmailJob implements JobHandler<SendAuthEmailData>, OnModuleInit {
  readonly queue = QUEUES.email;
  readonly name = SEND_AUTH_EMAIL_JOB;

  constructor(
    private readonly registry: JobRegistry,
    private readonly mailer: AuthMailer,
    private readonly box: SecretBox,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: SendAuthEmailData, ctx: JobContext): Promise<void> {
    const parts = JSON.parse(this.box.open(data.sealed, emailSealContext(data.projectId, data.to))) as SealedEmailParts;
    try {
      await this.mailer.send({
        projectId: data.projectId,
        ref: data.ref,
        to: data.to,
        template: data.template,
        ...parts,
        messageId: `<auth-${ctx.id}.${data.ref}@plinth>`,
      });
    } catch (e) {
      // The project's SMTP host is refused by the outbound policy: retrying can't help (the job is dead with the
      // reason, re-drivable once the settings are fixed).
      if (e instanceof OutboundAddressError) throw new PermanentJobError(`project SMTP server refused: ${e.message}`, { cause: e });
      throw e;
    }
  }
}
