/** Plinth's own emails (usage alerts, billing notices, invitations): SMTP_URL through a pooled transport, or the log. */
export { MailModule } from './mail.module';
/** Sends one email with a per-job stable Message-ID; writes it to the log when SMTP_URL is unset. */
export { PlatformMailer } from './platform-mailer';
export type { PlatformEmail, SendResult } from './platform-mailer';
/** HTML + text templates, every value escaped. */
export { renderEmail, usageAlertEmail, delinquencyNoticeEmail, orgInvitationEmail, emailVerificationEmail } from './templates';
export type { Block, RenderedEmail, UsageAlertEmail, DelinquencyNoticeEmail, OrgInvitationEmail, EmailVerificationEmail } from './templates';
