import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { assertAdmin } from './auth-admin.service';
import { AuthLimitsService } from './auth-limits.service';
import { AuthRepository } from './auth.repository';
import { userView } from './auth-user.view';
import { normalizeEmail } from './auth.dto';
import { AuthCall, AuthService } from './auth.service';
import { GoTrueCode, GoTrueException } from './gotrue.exception';

/**
 * `POST /invite` (supabase-js `auth.admin.inviteUserByEmail`), secret key only, as GoTrue answers it: creates the
 * user (no password, unconfirmed) unless an unconfirmed one exists, and emails an invite link and code (type
 * `invite`, redirecting to `?redirect_to` when allowed). Accepting it (`GET /verify` or `verifyOtp`) confirms the
 * address and signs the user in; they set a password with `PUT /user`. A confirmed address is 422 email_exists.
 */
@Injectable()
export class InviteService {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: AuthService,
    private readonly limits: AuthLimitsService,
  ) {}

  async invite(call: AuthCall, body: { email: string; data?: Record<string, unknown> }): Promise<Record<string, unknown>> {
    assertAdmin(call.tenant);
    const project = call.tenant.project;
    const email = normalizeEmail(body.email);
    const s = await this.auth.settingsOf(project);
    return this.repo.run(project, async (t) => {
      const existing = await this.repo.findUser(t, { email });
      if (existing?.email_confirmed_at) throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      // The project's hourly email budget applies to admin calls too (a leaked secret key can't mail-bomb).
      await this.limits.spendEmailBudget(project.id, s);
      const outcome = await this.repo.transaction(t, async (m) => {
        let userId = existing?.id;
        if (!userId) {
          userId = randomUUID();
          const created = await this.repo.createUser(t, { id: userId, email, passwordHash: null, confirmed: false, anonymous: false, userMetadata: body.data ?? {}, appMetadata: {} }, m);
          if (!created) return null; // invited (or signed up) concurrently
        }
        const issued = await this.auth.issueCode(m, call, s, t, { kind: 'invite', email, userId });
        const now = new Date();
        await this.repo.updateUser(t, userId, { invited_at: now, confirmation_sent_at: now }, m);
        return { userId, issued };
      });
      if (!outcome) throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      await this.auth.sendCode(outcome.issued);
      return userView((await this.repo.findUser(t, { id: outcome.userId }))!);
    });
  }
}
