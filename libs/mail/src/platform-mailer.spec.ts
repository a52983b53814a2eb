import { Logger } from '@nestjs/common';
import { loadConfig } from '@plinth/config';
import { PlatformMailer } from './platform-mailer';
import { emailVerificationEmail, orgInvitationEmail, usageAlertEmail } from './templates';

const config = (env: Record<string, string> = {}) =>
  loadConfig({ NODE_ENV: 'test', PLINTH_SECRET: 's'.repeat(40), SMTP_FROM: 'Plinth <no-reply@mail.example.com>', ...env });

describe(PlatformMailer.name, () => {
  afterEach(() => jest.restoreAllMocks());

  it('without SMTP_URL writes the email to the log: one structured line with recipients, subject and text', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const sut = new PlatformMailer(config());
    const mail = orgInvitationEmail({
      orgName: 'Acme',
      role: 'billing',
      invitedBy: 'owner@example.com',
      email: 'new@example.com',
      token: 'pl_inv_secret-token',
      acceptUrl: 'http://127.0.0.1:3000/v1/invitations/6b0c1c8e/accept',
      expiresAt: new Date('2030-01-01T00:00:00Z'),
    });

    const result = await sut.send({ ...mail, to: ['new@example.com'], messageId: sut.messageId('org-invitation', '42'), tag: 'org-invitation' });

    expect(result).toEqual({ delivered: false });
    expect(sut.configured).toBe(false);
    expect(log).toHaveBeenCalledTimes(1);
    const [fields, message] = log.mock.calls[0] as [Record<string, unknown>, string];
    expect(fields).toEqual({ tag: 'org-invitation', to: ['new@example.com'], subject: mail.subject, message_id: '<org-invitation-42@mail.example.com>', text: mail.text });
    expect(message).toContain(mail.subject);
    expect(String(fields.text)).toContain('/v1/invitations/6b0c1c8e/accept'); // followable on a dev machine
    expect(String(fields.text)).toContain('Invitation token: pl_inv_secret-token');
  });

  it('sends nothing (and logs nothing) for an empty recipient list', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const sut = new PlatformMailer(config({ SMTP_URL: 'smtp://user:pa55word@127.0.0.1:1' }));
    expect(await sut.send({ to: [], subject: 's', html: '<p>x</p>', text: 'x', messageId: '<x@y>', tag: 't' })).toEqual({ delivered: false });
    expect(log).not.toHaveBeenCalled();
  });

  it('derives a stable Message-ID per job from the sender domain', () => {
    const sut = new PlatformMailer(config());
    expect(sut.messageId('usage-alert', '17')).toBe('<usage-alert-17@mail.example.com>');
    expect(sut.messageId('usage-alert', '17')).toBe(sut.messageId('usage-alert', '17'));
    expect(new PlatformMailer(config({ SMTP_FROM: 'alerts@plinth.example' })).messageId('a b', 'x/y')).toBe('<a-b-x-y@plinth.example>');
  });
});

describe('platform email templates', () => {
  it('escape caller data in HTML and keep the text readable', () => {
    const mail = orgInvitationEmail({
      orgName: '<script>alert(1)</script>',
      role: 'viewer',
      invitedBy: null,
      email: 'x@example.com',
      token: 'abc',
      acceptUrl: 'http://h/v1/invitations/abc/accept?a=1&b=2',
      expiresAt: new Date('2030-01-01T00:00:00Z'),
    });
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('href="http://h/v1/invitations/abc/accept?a=1&#38;b=2"');
    expect(mail.text).toContain('Invitation token: abc');
    expect(mail.text).toContain('<script>alert(1)</script>');
  });

  it('put the verification code and link in both bodies, the link escaped in HTML', () => {
    const mail = emailVerificationEmail({ email: 'x@example.com', code: '012345', verifyUrl: 'http://h/v1/auth/verify?token=pl_ev_a&x=1', expiresAt: new Date('2030-01-01T00:00:00Z') });
    expect(mail.subject).toBe('Verify your email address for Plinth');
    expect(mail.text).toContain('Verification code: 012345');
    expect(mail.text).toContain('Or open this link: http://h/v1/auth/verify?token=pl_ev_a&x=1');
    expect(mail.html).toContain('<code>012345</code>');
    expect(mail.html).toContain('href="http://h/v1/auth/verify?token=pl_ev_a&#38;x=1"');
  });

  it('word usage alerts by kind and threshold', () => {
    const base = { projectRef: 'abcdefghijkl', meter: 'requests', used: 5, amount: 10, periodStart: '2030-01-01T00:00:00.000Z', usageUrl: 'http://h/u' };
    expect(usageAlertEmail({ ...base, kind: 'included', threshold: 50 }).subject).toBe('Project abcdefghijkl reached 50% of its requests included amount');
    expect(usageAlertEmail({ ...base, kind: 'spend', threshold: 100, meter: 'spend_cents', used: 1250, amount: 1000 }).text).toContain('12.50 of 10.00');
  });
});
