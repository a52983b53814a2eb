import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createTransport, Transporter } from 'nodemailer';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

/** One email from Plinth itself (not a tenant's own SMTP). */
export interface PlatformEmail {
  to: string | string[];
  subject: string;
  html: string;
  text: string;
  /**
   * `<…@…>`, stable across retries of one job ({@link PlatformMailer.messageId}): a resend after a crash between
   * delivery and bookkeeping carries the same Message-ID, so it is recognisable as a duplicate.
   */
  messageId: string;
  /** Defaults to SMTP_FROM. */
  from?: string;
  /** What kind of email this is, for the log line (`usage-alert`, `org-invitation`…). */
  tag: string;
}

export interface SendResult {
  /** False when no SMTP_URL is configured: the email went to the log. */
  delivered: boolean;
}

/**
 * Plinth's own mailer: nodemailer over SMTP_URL with a pooled transport created on first use; without SMTP_URL
 * (the embedded default) every email is written to the log — recipients, subject and text body, as the auth
 * runtime's issue asks, so a developer on the embedded default can follow a confirmation link. The body may
 * carry links and codes: that is why it is only ever logged when no SMTP is configured, i.e. on a developer's
 * machine; a deployment sets SMTP_URL. Callers are outbox jobs, never the request path.
 */
@Injectable()
export class PlatformMailer implements OnApplicationShutdown {
  private readonly logger = new Logger(PlatformMailer.name);
  private transport: Transporter | undefined;
  private readonly domain: string;

  constructor(@Inject(PLINTH_CONFIG) private readonly config: PlinthConfig) {
    this.domain = /@([^\s<>@]+?)>?\s*$/.exec(config.mail.from)?.[1] ?? 'plinth.local';
  }

  /** Whether email really leaves the process (SMTP_URL set). */
  get configured(): boolean {
    return Boolean(this.config.mail.smtpUrl);
  }

  /** A Message-ID that is the same for every attempt of one job: `<kind-id@sender domain>`. */
  messageId(kind: string, id: string): string {
    return `<${kind.replace(/[^A-Za-z0-9._-]/g, '-')}-${id.replace(/[^A-Za-z0-9._-]/g, '-')}@${this.domain}>`;
  }

  async send(mail: PlatformEmail): Promise<SendResult> {
    const to = Array.isArray(mail.to) ? mail.to : [mail.to];
    if (to.length === 0) return { delivered: false };
    const transport = this.transportOrNull();
    if (!transport) {
      this.logger.log({ tag: mail.tag, to, subject: mail.subject, message_id: mail.messageId, text: mail.text }, `email written to the log (no SMTP_URL): ${mail.subject}`);
      return { delivered: false };
    }
    await transport.sendMail({ from: mail.from ?? this.config.mail.from, to, subject: mail.subject, html: mail.html, text: mail.text, messageId: mail.messageId });
    this.logger.log({ tag: mail.tag, to, message_id: mail.messageId }, 'email sent'); // never the body once it really leaves
    return { delivered: true };
  }

  onApplicationShutdown(): void {
    this.transport?.close();
    this.transport = undefined;
  }

  private transportOrNull(): Transporter | null {
    const url = this.config.mail.smtpUrl;
    if (!url) return null;
    // Pooled: alerts and notices come in bursts (one per job); reuse a few connections instead of one per email.
    this.transport ??= createTransport({
      url,
      pool: true,
      maxConnections: 3,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    return this.transport;
  }
}
