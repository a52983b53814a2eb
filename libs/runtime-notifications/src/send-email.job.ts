import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock, OutboundAddressError } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { JobContext, JobHandler, JobRegistry, PermanentJobError, QUEUES } from '@plinth/jobs';
import { METERS, MeteringService } from '@plinth/metering';
import { AuthMailer } from '@plinth/runtime-auth';
import { ProjectsRepository } from '@plinth/tenancy';
import { SEND_EMAIL_JOB, SendEmailData } from './job-names';
import { NotificationsRepository } from './notifications.repository';
import { PreferencesService } from './preferences.service';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * One email delivery: the message's title as the subject and its body as text (and escaped HTML), over the
 * project's own SMTP settings (auth config) or the platform mailer. The Message-ID is the delivery's, so a resend
 * after a crash between sending and recording is recognisable as a duplicate. Failures retry with the job system's
 * backoff; a refused SMTP host is dead at once. Every attempt is in the delivery log.
 */
@Injectable()
export class SendEmailJob implements JobHandler<SendEmailData>, OnModuleInit {
  readonly queue = QUEUES.email;
  readonly name = SEND_EMAIL_JOB;

  constructor(
    private readonly registry: JobRegistry,
    private readonly tx: ControlTransactions,
    private readonly repo: NotificationsRepository,
    private readonly mailer: AuthMailer,
    private readonly metering: MeteringService,
    private readonly prefs: PreferencesService,
    private readonly projects: ProjectsRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  /** RFC 2369/8058 headers for an email to an end user: a signed link that opts them out in one POST, keyless. */
  private async unsubscribeHeaders(data: SendEmailData): Promise<{ headers?: Record<string, string> }> {
    if (!data.userId) return {};
    const [project] = await this.projects.refsByIds([data.projectId]);
    if (!project) return {};
    const url = this.prefs.unsubscribeUrl(project.ref, { projectId: data.projectId, userId: data.userId, topic: data.topic ?? null });
    return { headers: { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } };
  }

  async handle(data: SendEmailData, ctx: JobContext): Promise<void> {
    const delivery = await this.repo.delivery(data.deliveryId);
    if (!delivery || delivery.status === 'succeeded' || delivery.status === 'dead') return;
    const msg = await this.repo.message(delivery.message_id);
    if (!msg) return;
    const templated = msg.content.email;
    const subject = (templated?.subject ?? msg.content.title ?? 'Notification').replace(/[\r\n]+/g, ' ');
    const text = templated?.text ?? msg.content.body ?? msg.content.title ?? '';
    const html = templated?.html ?? `<p>${escapeHtml(text).replace(/\n/g, '<br>')}</p>`;
    const started = performance.now();
    let error: unknown;
    try {
      await this.mailer.sendProjectEmail(
        msg.project_id,
        { to: delivery.target, subject, text, html, messageId: `<notify-${delivery.id}@plinth>`, ...(await this.unsubscribeHeaders(data)) },
        'notification',
      );
    } catch (e) {
      error = e;
    }
    const now = this.clock.now();
    const permanent = error instanceof OutboundAddressError;
    const last = error === undefined || permanent || ctx.attempt >= ctx.maxAttempts;
    await this.tx.run(async (m) => {
      const d = await this.repo.lockDelivery(m, delivery.id);
      if (!d || d.status === 'succeeded' || d.status === 'dead') return;
      const attempt = d.attempts + 1;
      await this.repo.insertAttempt(m, d.id, { attempt, statusCode: null, latencyMs: Math.round(performance.now() - started), error: error === undefined ? null : String((error as Error).message ?? error).slice(0, 500), excerpt: null, at: now });
      await this.repo.setDeliveryState(m, d.id, { status: error === undefined ? 'succeeded' : last ? 'dead' : 'retrying', attempts: attempt, nextAttemptAt: null, at: now });
    });
    if (error === undefined) {
      this.metering.record(msg.project_id, `${METERS.notifications}:email`, 1);
      return;
    }
    if (permanent) throw new PermanentJobError(`project SMTP server refused: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}
