import { Injectable } from '@nestjs/common';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { ControlTransactions } from '@plinth/database';
import { AuthLimitsService } from './auth-limits.service';
import { AuthRepository, AuthScope } from './auth.repository';
import { AuthCall, AuthService } from './auth.service';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { SecretBox } from './secret-box';
import { emailSealContext, SEND_AUTH_EMAIL_JOB, SendAuthEmailData } from './send-auth-email.job';

/** GoTrue's window: a session signed in this recently may change its password without a nonce. */
const RECENT_SIGN_IN_MS = 24 * 3_600_000;
const KIND = 'reauthentication' as const;

const nonceInvalid = () => GoTrueException.unprocessable(GoTrueCode.ReauthenticationNotValid, 'Nonce has expired or is invalid');

/**
 * Reauthentication, as GoTrue has it: `GET /reauthenticate` emails a signed-in user a 6-digit nonce (no link);
 * when the project sets `update_password_require_reauthentication`, `PUT /user` with a new password must carry
 * it (`updateUser({ password, nonce })`), unless the session signed in less than 24 hours ago. The nonce is a
 * stored code of kind `reauthentication`: keyed to the project and the user, single use, the project's OTP
 * lifetime, dead after five wrong guesses, and never accepted by `/verify`.
 */
@Injectable()
export class ReauthenticationService {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: AuthService,
    private readonly limits: AuthLimitsService,
    private readonly box: SecretBox,
    private readonly outbox: OutboxService,
    private readonly tx: ControlTransactions,
  ) {}

  /** `GET /reauthenticate`: mails a fresh nonce (replacing the last) to the caller's confirmed address. */
  async reauthenticate(call: AuthCall): Promise<Record<string, never>> {
    const me = await this.auth.caller(call);
    const project = call.tenant.project;
    const s = await this.auth.settingsOf(project);
    const user = await this.repo.run(project, (t) => this.repo.findUser(t, { id: me.id }));
    if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User from sub claim in JWT does not exist');
    if (!user.email) throw GoTrueException.unprocessable(GoTrueCode.ValidationFailed, 'Reauthentication requires the user to have an email or a phone number');
    if (!user.email_confirmed_at) throw GoTrueException.badRequest(GoTrueCode.EmailNotConfirmed, 'Please verify your email first.');
    const email = user.email;
    await this.limits.checkEmailRequest(project.id, s, email, call.ip);
    await this.limits.spendEmailBudget(project.id, s);
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    await this.repo.run(project, (t) =>
      this.repo.transaction(t, (m) =>
        this.repo.createCode(
          t,
          // The link hash is a random value nobody holds: this code has no link (and /verify never takes this kind).
          { id: randomUUID(), kind: KIND, email, userId: user.id, codeHash: this.nonceHash(project.id, user.id, code), linkHash: randomBytes(32).toString('hex'), ttlSeconds: s.otp_ttl_seconds },
          m,
        ),
      ),
    );
    const mail: SendAuthEmailData = {
      orgId: project.orgId,
      projectId: project.id,
      ref: project.ref,
      to: email,
      template: KIND,
      sealed: this.box.seal(JSON.stringify({ token: code, tokenHash: '', confirmationUrl: '', redirectTo: this.auth.safeRedirect(s, undefined) }), emailSealContext(project.id, email)),
    };
    await this.tx.run((m) => this.outbox.enqueue(m, { queue: QUEUES.email, name: SEND_AUTH_EMAIL_JOB, data: mail }));
    return {};
  }

  /**
   * `PUT /user`: when the body changes the password and the project requires reauthentication, the nonce is
   * checked (and spent) first; then the update as usual. A weak password is refused before the nonce is spent.
   */
  async updateUser(call: AuthCall, body: { email?: string; password?: string; data?: Record<string, unknown>; phone?: string; nonce?: string }): Promise<Record<string, unknown>> {
    const { nonce, ...update } = body;
    if (update.password !== undefined) {
      const s = await this.auth.settingsOf(call.tenant.project);
      if (s.update_password_require_reauthentication) {
        this.auth.assertStrongPassword(s, update.password);
        await this.assertReauthenticated(call, nonce);
      }
    }
    return this.auth.updateUser(call, update);
  }

  private async assertReauthenticated(call: AuthCall, nonce: string | undefined): Promise<void> {
    const me = await this.auth.caller(call);
    const project = call.tenant.project;
    const sessionId = typeof me.claims.session_id === 'string' ? me.claims.session_id : null;
    await this.repo.run(project, async (t: AuthScope) => {
      const signedInAt = sessionId ? await this.repo.sessionCreatedAt(t, sessionId, me.id) : null;
      if (signedInAt && Date.now() - signedInAt.getTime() < RECENT_SIGN_IN_MS) return;
      if (!nonce) throw GoTrueException.badRequest(GoTrueCode.ReauthenticationNeeded, 'Password update requires reauthentication');
      const user = await this.repo.findUser(t, { id: me.id });
      if (!user?.email) throw nonceInvalid();
      const expected = this.nonceHash(project.id, user.id, nonce.trim());
      const spent = await this.repo.consumeCode(t, user.email, [KIND], (h) => SecretBox.equal(h, expected));
      if (!spent || spent.user_id !== user.id) throw nonceInvalid();
    });
  }

  /** Keyed to the project and the user: a nonce is worth nothing to another account or project. */
  private nonceHash(projectId: string, userId: string, nonce: string): string {
    return this.box.mac(nonce, `reauthentication:${projectId}:${userId}`);
  }
}
