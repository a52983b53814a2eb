/** A rendered email: subject, HTML and plain-text bodies made from the same blocks. */
export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** A paragraph of text, or a link with its label (rendered as an anchor in HTML and `label: url` in text). */
export type Block = string | { label: string; url: string } | { code: string; label: string };

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Renders blocks into both bodies; every value is HTML-escaped, so caller data can't inject markup. */
export function renderEmail(subject: string, heading: string, blocks: Block[]): RenderedEmail {
  const html: string[] = [`<h2>${escapeHtml(heading)}</h2>`];
  const text: string[] = [heading, ''];
  for (const b of blocks) {
    if (typeof b === 'string') {
      html.push(`<p>${escapeHtml(b)}</p>`);
      text.push(b, '');
    } else if ('url' in b) {
      html.push(`<p><a href="${escapeHtml(b.url)}">${escapeHtml(b.label)}</a></p>`);
      text.push(`${b.label}: ${b.url}`, '');
    } else {
      html.push(`<p>${escapeHtml(b.label)}: <code>${escapeHtml(b.code)}</code></p>`);
      text.push(`${b.label}: ${b.code}`, '');
    }
  }
  const footer = 'You receive this email because of your role in a Plinth organization.';
  html.push(`<p style="color:#666;font-size:12px">${escapeHtml(footer)}</p>`);
  text.push('--', footer);
  return {
    subject: subject.replace(/[\r\n]+/g, ' '),
    html: `<!doctype html><html><body style="font-family:sans-serif">${html.join('')}</body></html>`,
    text: text.join('\n'),
  };
}

const METER_KIND = { included: 'included amount', cap: 'cap', spend: 'spend cap' } as const;

export interface UsageAlertEmail {
  projectRef: string;
  meter: string;
  kind: 'included' | 'cap' | 'spend';
  threshold: number;
  used: number;
  amount: number;
  periodStart: string;
  usageUrl: string;
}

/** 50/80/100 % of an included amount, meter cap or spend cap. */
export function usageAlertEmail(d: UsageAlertEmail): RenderedEmail {
  const what = d.kind === 'spend' ? 'spend cap' : `${d.meter} ${METER_KIND[d.kind]}`;
  const amounts = d.kind === 'spend' ? `${fmtCents(d.used)} of ${fmtCents(d.amount)}` : `${fmt(d.used)} of ${fmt(d.amount)}`;
  return renderEmail(`Project ${d.projectRef} reached ${d.threshold}% of its ${what}`, `${d.threshold}% of the ${what} used`, [
    `Project ${d.projectRef} has used ${amounts} (${d.threshold}%) in the billing period that started ${d.periodStart.slice(0, 10)}.`,
    d.threshold >= 100
      ? d.kind === 'included'
        ? 'Further usage is billed as overage, or refused on plans with hard caps.'
        : 'Further usage is refused until the period ends or the cap is raised.'
      : 'No action is needed yet; this is an early warning.',
    { label: 'Usage of the project', url: d.usageUrl },
  ]);
}

export interface DelinquencyNoticeEmail {
  orgName: string;
  state: 'grace' | 'read_only' | 'suspended';
  readOnlyAt: Date;
  suspendedAt: Date;
  billingUrl: string;
}

/** Where an org stands after a failed payment: grace (until read-only), read-only (until suspended), suspended. */
export function delinquencyNoticeEmail(d: DelinquencyNoticeEmail): RenderedEmail {
  const day = (x: Date) => x.toISOString().slice(0, 10);
  const link = { label: 'Update the payment method and pay', url: d.billingUrl };
  if (d.state === 'grace') {
    return renderEmail(`Payment failed: ${d.orgName}'s projects become read-only on ${day(d.readOnlyAt)}`, 'Your payment failed', [
      `We could not collect the payment for organization ${d.orgName}.`,
      `Its projects keep working until ${d.readOnlyAt.toISOString()}; then they become read-only, and on ${d.suspendedAt.toISOString()} they are suspended.`,
      link,
    ]);
  }
  if (d.state === 'read_only') {
    return renderEmail(`${d.orgName}'s projects are read-only; suspension on ${day(d.suspendedAt)}`, 'Your projects are read-only', [
      `Payment for organization ${d.orgName} is still outstanding, so its projects accept reads but refuse writes.`,
      `They will be suspended on ${d.suspendedAt.toISOString()} unless the payment succeeds. Access is restored as soon as it does.`,
      link,
    ]);
  }
  return renderEmail(`${d.orgName}'s projects are suspended for non-payment`, 'Your projects are suspended', [
    `Payment for organization ${d.orgName} is still outstanding, so its projects are suspended.`,
    'Access is restored as soon as the payment succeeds.',
    link,
  ]);
}

export interface OrgInvitationEmail {
  orgName: string;
  role: string;
  invitedBy: string | null;
  email: string;
  /** The secret that accepting takes, in the body: only this email carries it. */
  token: string;
  acceptUrl: string;
  expiresAt: Date;
}

/** An invitation to join an org; accepted by the invited address's verified account with the emailed token. */
export function orgInvitationEmail(d: OrgInvitationEmail): RenderedEmail {
  return renderEmail(`You are invited to join ${d.orgName} on Plinth`, `Join ${d.orgName} on Plinth`, [
    `${d.invitedBy ?? 'An administrator'} invited ${d.email} to organization ${d.orgName} as ${d.role}.`,
    `Sign in (or sign up and verify) as ${d.email} and accept the invitation before ${d.expiresAt.toISOString()}, with this token in the body ({"token": "…"}):`,
    { label: 'Accept the invitation (POST, signed in)', url: d.acceptUrl },
    { label: 'Invitation token', code: d.token },
    'If you did not expect this invitation, ignore this email.',
  ]);
}

export interface EmailVerificationEmail {
  email: string;
  code: string;
  verifyUrl: string;
  expiresAt: Date;
}

/** Proves a console account's address: a code to type in, or a link to open, whichever is handier. */
export function emailVerificationEmail(d: EmailVerificationEmail): RenderedEmail {
  return renderEmail('Verify your email address for Plinth', 'Verify your email address', [
    `Someone (hopefully you) created a Plinth account for ${d.email}. Confirm that this address is yours before ${d.expiresAt.toISOString()}:`,
    { label: 'Verification code', code: d.code },
    { label: 'Or open this link', url: d.verifyUrl },
    'Until the address is verified, the account can work in its own organization but cannot accept or send invitations.',
    'If you did not sign up for Plinth, ignore this email.',
  ]);
}

function fmt(n: number): string {
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function fmtCents(n: number): string {
  return (Number(n) / 100).toFixed(2);
}
