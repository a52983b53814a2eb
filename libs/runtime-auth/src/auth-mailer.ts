import { Inject, Injectable } from '@nestjs/common';
import { createTransport, Transporter } from 'nodemailer';
import { connectOutbound } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlatformMailer } from '@plinth/mail';
import { AuthConfigService, ProjectAuthConfig } from './auth-config.service';

export type EmailTemplate = 'confirmation' | 'magic_link' | 'recovery' | 'email_change' | 'invite' | 'reauthentication';

export interface AuthEmail {
  projectId: string;
  ref: string;
  to: string;
  template: EmailTemplate;
  /** One-time code and link, in the template as {{ .Token }} and {{ .ConfirmationURL }}. */
  token: string;
  confirmationUrl: string;
  tokenHash: string;
  redirectTo: string;
  newEmail?: string;
  /** Stable across retries of one job, so a duplicate (crash after send) is recognisable by the recipient's server. */
  messageId: string;
}

const DEFAULT_TEMPLATES: Record<EmailTemplate, { subject: string; html: string }> = {
  confirmation: {
    subject: 'Confirm your signup',
    html: '<h2>Confirm your signup</h2><p>Follow this link to confirm your account:</p><p><a href="{{ .ConfirmationURL }}">Confirm your email</a></p><p>Or enter this code: {{ .Token }}</p>',
  },
  magic_link: {
    subject: 'Your sign-in link',
    html: '<h2>Sign in</h2><p>Follow this link to sign in:</p><p><a href="{{ .ConfirmationURL }}">Sign in</a></p><p>Or enter this code: {{ .Token }}</p>',
  },
  recovery: {
    subject: 'Reset your password',
    html: '<h2>Reset your password</h2><p>Follow this link to reset your password:</p><p><a href="{{ .ConfirmationURL }}">Reset password</a></p><p>Or enter this code: {{ .Token }}</p>',
  },
  email_change: {
    subject: 'Confirm your new email address',
    html: '<h2>Confirm email change</h2><p>Follow this link to confirm the change to {{ .NewEmail }}:</p><p><a href="{{ .ConfirmationURL }}">Change email</a></p><p>Or enter this code: {{ .Token }}</p>',
  },
  invite: {
    subject: 'You have been invited',
    html: '<h2>You have been invited</h2><p>Follow this link to accept the invite:</p><p><a href="{{ .ConfirmationURL }}">Accept the invite</a></p><p>Or enter this code: {{ .Token }}</p>',
  },
  reauthentication: {
    subject: 'Confirm reauthentication',
    html: '<h2>Confirm reauthentication</h2><p>Enter this code: {{ .Token }}</p>',
  },
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** GoTrue's template variables; values are HTML-escaped (they end up in attributes and text). */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (whole, name: string) => (name in vars ? escapeHtml(vars[name]) : whole));
}

/**
 * Sends auth emails: over the project's own SMTP when configured, else through the platform mailer (SMTP_URL, or
 * a log line without the body when unset). Called by the outbox job only, never on the request path.
 */
@Injectable()
export class AuthMailer {
  private readonly transports = new Map<string, { version: string; transport: Transporter }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly settings: AuthConfigService,
    private readonly platform: PlatformMailer,
  ) {}

  async send(mail: AuthEmail): Promise<void> {
    const config = await this.settings.get(mail.projectId);
    const s = config.settings;
    const tpl = s.templates[mail.template] ?? DEFAULT_TEMPLATES[mail.template];
    const vars = {
      ConfirmationURL: mail.confirmationUrl,
      Token: mail.token,
      TokenHash: mail.tokenHash,
      SiteURL: s.site_url ?? this.config.http.publicUrl,
      RedirectTo: mail.redirectTo,
      Email: mail.to,
      NewEmail: mail.newEmail ?? mail.to,
    };
    const html = renderTemplate(tpl.html, vars);
    const subject = renderTemplate(tpl.subject, vars).replace(/&#\d+;/g, (e) => String.fromCharCode(Number(e.slice(2, -1))));
    const text = html.replace(/<a [^>]*href="([^"]*)"[^>]*>([^<]*)<\/a>/g, '$2: $1').replace(/<[^>]+>/g, '\n').replace(/\n{2,}/g, '\n').trim()
      .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
    const smtp = s.smtp;
    const transport = this.projectTransport(mail.projectId, config);
    if (!smtp || !transport) {
      // The platform mailer; without SMTP_URL it logs recipients and subject only (the body holds the code).
      await this.platform.send({ to: mail.to, subject, html, text, messageId: mail.messageId, tag: `auth-${mail.template}` });
      return;
    }
    const from = smtp.sender_name ? `${smtp.sender_name} <${smtp.sender_email}>` : smtp.sender_email;
    await transport.sendMail({ from, to: mail.to, subject, html, text, messageId: mail.messageId });
  }

  /** The project's own SMTP transport (cached per settings version), or null when it has none. */
  private projectTransport(projectId: string, config: ProjectAuthConfig): Transporter | null {
    const smtp = config.settings.smtp;
    if (!smtp) return null;
    const hit = this.transports.get(projectId);
    if (hit && hit.version === config.version) return hit.transport;
    hit?.transport.close();
    const pass = this.settings.smtpPassword(projectId, config);
    const allowPrivate = this.config.outbound.allowPrivate;
    const transport = createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      auth: smtp.user ? { user: smtp.user, pass: pass ?? '' } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
      // We open the socket, so the customer's host is resolved and checked in the connection's own lookup
      // (non-public addresses refused with OutboundAddressError unless OUTBOUND_ALLOW_PRIVATE); nodemailer
      // then speaks SMTP (and TLS, for `secure`) over it and never resolves or connects on its own.
      getSocket: (_options, callback) => {
        connectOutbound(smtp.host, smtp.port, { allowPrivate, timeoutMs: 10_000 }).then(
          (connection) => callback(null, { connection }),
          (err: Error) => callback(err, false),
        );
      },
    });
    if (this.transports.size > 1000) this.transports.clear();
    this.transports.set(projectId, { version: config.version, transport });
    return transport;
  }
}
