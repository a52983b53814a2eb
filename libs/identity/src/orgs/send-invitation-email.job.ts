import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobContext, JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { orgInvitationEmail, PlatformMailer } from '@plinth/mail';
import { EmailSecrets } from '../tokens/email-secrets';
import { OrgsRepository } from './orgs.repository';

export const SEND_INVITATION_EMAIL_JOB = 'identity.invitation-email';

export interface SendInvitationEmailData extends JobData {
  orgId: string;
  invitationId: string;
}

/**
 * Emails an org invitation to the invited address, enqueued in the transaction that created the invitation.
 * The body carries the invitation's token (derived from PLINTH_SECRET and the invitation id, so the job data holds
 * no secret), which the invited address's verified account sends to `POST /v1/invitations/:id/accept`. An invitation accepted, revoked or expired before the job runs is not
 * sent. At-least-once: a crash after the send and before the job is marked done resends it once, with the same
 * Message-ID (from the outbox job id).
 */
@Injectable()
export class SendInvitationEmailJob implements JobHandler<SendInvitationEmailData>, OnModuleInit {
  readonly queue = QUEUES.email;
  readonly name = SEND_INVITATION_EMAIL_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly orgs: OrgsRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly mailer: PlatformMailer,
    private readonly secrets: EmailSecrets,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(d: SendInvitationEmailData, ctx: JobContext): Promise<void> {
    const inv = await this.orgs.invitationToSend(d.invitationId, d.orgId);
    if (!inv || inv.accepted_at || inv.revoked_at || inv.expires_at.getTime() <= this.clock.nowMs()) return;
    const mail = orgInvitationEmail({
      orgName: inv.org_name,
      role: inv.role,
      invitedBy: inv.inviter,
      email: inv.email,
      token: this.secrets.invitationToken(d.invitationId),
      acceptUrl: `${this.config.http.publicUrl}/v1/invitations/${d.invitationId}/accept`,
      expiresAt: inv.expires_at,
    });
    await this.mailer.send({ ...mail, to: inv.email, messageId: this.mailer.messageId('org-invitation', ctx.id), tag: 'org-invitation' });
  }
}
