import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  to: string[];
  /** The SMTP AUTH user the sender logged in as, if any. */
  authUser: string | null;
  raw: string;
  subject: string;
  /** The decoded bodies (quoted-printable undone), text and html together. */
  body: string;
}

/**
 * A real local SMTP server (the `smtp-server` package) that keeps every message it receives, for tests that
 * follow emailed codes and links.
 */
export class SmtpCapture {
  readonly mails: CapturedMail[] = [];
  private server!: SMTPServer;
  port = 0;
  private waiters: Array<() => void> = [];

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
          const subject = /^Subject: (.*)$/im.exec(raw)?.[1]?.trim() ?? '';
          const authUser = typeof session.user === 'string' ? session.user : null;
          this.mails.push({ to, authUser, raw, subject, body: decodeQuotedPrintable(raw) });
          for (const w of this.waiters.splice(0)) w();
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Waits for the next mail to `to` after `after` mails (default: any not yet seen by a previous wait). */
  async waitFor(to: string, timeoutMs = 10_000): Promise<CapturedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.mails.find((m) => m.to.includes(to.toLowerCase()));
      if (hit) {
        this.mails.splice(this.mails.indexOf(hit), 1);
        return hit;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${to} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  countTo(to: string): number {
    return this.mails.filter((m) => m.to.includes(to.toLowerCase())).length;
  }
}

function decodeQuotedPrintable(raw: string): string {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** The 6-digit code and the verification link of an auth email. */
export function codeAndLink(mail: CapturedMail): { code: string; link: string } {
  const code = /code: (\d{6})/.exec(mail.body)?.[1];
  const link = /href="([^"]+\/verify\?[^"]+)"/.exec(mail.body)?.[1]?.replace(/&amp;/g, '&').replace(/&#38;/g, '&');
  if (!code || !link) throw new Error(`no code/link in mail: ${mail.body.slice(0, 2000)}`);
  return { code, link };
}
