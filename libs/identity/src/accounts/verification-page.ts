import type { LinkOutcome } from './email-verification.service';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a browser shows after opening a verification link: what happened, in a sentence. */
export function verificationPage(outcome: LinkOutcome): { status: number; html: string } {
  const [status, title, text] =
    outcome.status === 'verified'
      ? [200, 'Email address verified', `${outcome.email} is verified. You can close this page and return to Plinth.`]
      : [400, 'Link invalid or expired', 'This verification link is invalid, was replaced by a newer one, or has expired. Sign in and request a new one.'];
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<title>${escapeHtml(title)}</title></head><body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">` +
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`;
  return { status, html };
}
