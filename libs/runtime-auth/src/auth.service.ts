import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ControlTransactions } from '@plinth/database';
import type { EndUser, TenantContext, TenantProject } from '@plinth/gateway';
import { OutboxService, QUEUES } from '@plinth/jobs';
import type { AuthSettings } from './auth-config.dto';
import { AuthConfigService } from './auth-config.service';
import { AuthLimitsService } from './auth-limits.service';
import type { EmailTemplate } from './auth-mailer';
import { AuthRepository, AuthScope, AuthTx, CodeKind, CodeRow } from './auth.repository';
import { AuthTokensService } from './auth-tokens.service';
import { obfuscatedUser, UserRow, userView } from './auth-user.view';
import { normalizeEmail, VERIFY_TYPES } from './auth.dto';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { MauService } from './mau.service';
import type { PkceChallenge } from './pkce';
import { PkceService } from './pkce.service';
import { dummyHash, hashPassword, passwordNeedsRehash, verifyPassword, weakPasswordReasons } from './password';
import { SecretBox } from './secret-box';
import { allowedRedirect } from './redirect-allow-list';
import { emailSealContext, SEND_AUTH_EMAIL_JOB, SendAuthEmailData } from './send-auth-email.job';

/** Who is calling and from where; every auth call carries its project explicitly. */
export interface AuthCall {
  tenant: TenantContext;
  ip: string;
  userAgent: string | null;
  /** The raw `Authorization: Bearer` value when it is not an API key (an end-user access token). */
  bearer: string | null;
  redirectTo?: string;
  /** The S256 code challenge of a PKCE flow (`flowType: 'pkce'`), for requests that send a link. */
  pkce?: PkceChallenge | null;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: Record<string, unknown>;
  /** The provider's tokens after an OAuth sign-in (GoTrue returns them once, in this response; never stored). */
  provider_token?: string;
  provider_refresh_token?: string;
}

type Amr = Array<{ method: string; timestamp: number }>;

/** A one-time code just created, and the (sealed) email that carries it. */
export interface IssuedCode {
  id: string;
  code: string;
  link: string;
  actionLink: string;
  redirectTo: string;
  email: SendAuthEmailData;
}
type VerifyType = (typeof VERIFY_TYPES)[number];

const LINK_TYPE: Record<CodeKind, VerifyType> = { signup: 'signup', magiclink: 'magiclink', recovery: 'recovery', email_change: 'email_change', invite: 'invite' };
const TEMPLATE: Record<CodeKind, EmailTemplate> = { signup: 'confirmation', magiclink: 'magic_link', recovery: 'recovery', email_change: 'email_change', invite: 'invite' };
/** Which stored codes a verification `type` may consume. */
const KINDS_FOR: Record<VerifyType, CodeKind[]> = {
  signup: ['signup'],
  invite: ['invite'],
  magiclink: ['magiclink', 'signup'],
  email: ['magiclink', 'signup', 'invite'],
  recovery: ['recovery'],
  email_change: ['email_change'],
};

const invalidCredentials = () => GoTrueException.badRequest(GoTrueCode.InvalidCredentials, 'Invalid login credentials');
const otpInvalid = () => GoTrueException.forbidden(GoTrueCode.OtpExpired, 'Token has expired or is invalid');

/**
 * GoTrue's end-user flows for one project: sign-up (password, anonymous), password and refresh-token grants,
 * the current user, logout, one-time codes and links (confirmation, magic link, recovery, email change).
 */
@Injectable()
export class AuthService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: AuthRepository,
    private readonly settings: AuthConfigService,
    private readonly tokens: AuthTokensService,
    private readonly limits: AuthLimitsService,
    private readonly box: SecretBox,
    private readonly outbox: OutboxService,
    private readonly mau: MauService,
    private readonly tx: ControlTransactions,
    private readonly pkce: PkceService,
  ) {}

  async publicSettings(project: TenantProject) {
    const s = (await this.settings.get(project.id)).settings;
    return {
      external: {
        email: true, phone: false, anonymous_users: s.anonymous_sign_ins,
        ...Object.fromEntries(Object.entries(s.providers).map(([name, p]) => [name, p?.enabled === true])),
      },
      disable_signup: !s.signup_enabled,
      mailer_autoconfirm: !s.email_confirm_required,
      phone_autoconfirm: false,
      sms_provider: '',
      saml_enabled: false,
    };
  }

  async signup(call: AuthCall, body: { email?: string; phone?: string; password?: string; data?: Record<string, unknown> }): Promise<TokenResponse | Record<string, unknown>> {
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    if (body.phone) throw GoTrueException.unprocessable(GoTrueCode.ValidationFailed, 'Phone signups are not supported');
    if (!body.email && !body.password) return this.signupAnonymously(call, s, body.data ?? {});
    if (!s.signup_enabled) throw GoTrueException.unprocessable(GoTrueCode.SignupDisabled, 'Signups not allowed for this instance');
    if (!body.email) throw GoTrueException.validation('To signup, please provide your email');
    const email = normalizeEmail(body.email);
    if (!body.password) throw GoTrueException.validation('Signup requires a valid password');
    this.assertStrongPassword(s, body.password);
    await this.limits.check(project.id, s, 'sign_in', call.ip);

    const t = this.repo.tables(project);
    const passwordHash = await hashPassword(body.password);
    const id = randomUUID();
    const metadata = body.data ?? {};
    return this.repo.run(project, async () => {
      if (!s.email_confirm_required) {
        const created = await this.repo.createUser(t, { id, email, passwordHash, confirmed: true, anonymous: false, userMetadata: metadata, appMetadata: {} });
        if (!created) throw GoTrueException.unprocessable(GoTrueCode.UserAlreadyExists, 'User already registered');
        const user = (await this.repo.findUser(t, { id }))!;
        return this.startSession(project, s, t, user, 'password', call);
      }
      // Confirmation required: the answer is the same whether or not the address is taken (no enumeration).
      await this.limits.checkEmailRequest(project.id, s, email, call.ip);
      const existing = await this.repo.findUser(t, { email });
      if (existing?.email_confirmed_at) return obfuscatedUser(randomUUID(), email, metadata);
      await this.limits.spendEmailBudget(project.id, s);
      const outcome = await this.repo.transaction(t, async (m) => {
        let userId: string = id;
        let ended: string[] = [];
        if (!existing) {
          const created = await this.repo.createUser(t, { id, email, passwordHash, confirmed: false, anonymous: false, userMetadata: metadata, appMetadata: {} }, m);
          if (!created) return null;
        } else {
          const current = await this.repo.findUser(t, { id: existing.id }, m, true);
          if (!current || current.email_confirmed_at) return null;
          // Nobody has proved they own this address yet, so the pending credentials are whoever signed up last:
          // the new signup code (which replaces the earlier ones) confirms exactly this password, and sessions
          // got with an earlier one end (a pre-registered password must not survive).
          await this.repo.updateUser(t, existing.id, { encrypted_password: passwordHash, user_metadata: metadata }, m);
          ended = await this.repo.deleteSessions(t, existing.id, 'global', null, m);
          userId = existing.id;
        }
        const issued = await this.issueCode(m, call, s, t, { kind: 'signup', email, userId });
        await this.repo.updateUser(t, userId, { confirmation_sent_at: new Date() }, m);
        return { user: (await this.repo.findUser(t, { id: userId }, m))!, ended, issued };
      });
      if (!outcome) return obfuscatedUser(randomUUID(), email, metadata);
      this.tokens.forgetSessions(project.id, outcome.ended);
      await this.sendCode(outcome.issued);
      return userView(outcome.user);
    });
  }

  private async signupAnonymously(call: AuthCall, s: AuthSettings, data: Record<string, unknown>): Promise<TokenResponse> {
    const project = call.tenant.project;
    if (!s.anonymous_sign_ins) throw GoTrueException.unprocessable(GoTrueCode.AnonymousDisabled, 'Anonymous sign-ins are disabled');
    await this.limits.check(project.id, s, 'anonymous', call.ip);
    return this.repo.run(project, async (t) => {
      const id = randomUUID();
      await this.repo.createUser(t, { id, email: null, passwordHash: null, confirmed: false, anonymous: true, userMetadata: data, appMetadata: {} });
      return this.startSession(project, s, t, (await this.repo.findUser(t, { id }))!, 'anonymous', call);
    });
  }

  /** `grant_type=password`. Unknown emails cost the same argon2 verification as known ones. */
  async passwordGrant(call: AuthCall, body: { email?: string; phone?: string; password: string }): Promise<TokenResponse> {
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    if (!body.email) throw GoTrueException.validation(body.phone ? 'Phone sign-ins are not supported' : 'An email address is required');
    const email = normalizeEmail(body.email);
    await this.limits.check(project.id, s, 'password', call.ip, email);
    return this.repo.run(project, async (t) => {
      const user = await this.repo.findUser(t, { email });
      const ok = await verifyPassword(user?.encrypted_password ?? (await dummyHash()), body.password);
      if (!user || !user.encrypted_password || !ok) throw invalidCredentials();
      if (s.email_confirm_required && !user.email_confirmed_at) throw GoTrueException.badRequest(GoTrueCode.EmailNotConfirmed, 'Email not confirmed');
      this.assertNotBanned(user);
      // Once per account: a hash from an earlier setting is replaced, so later sign-ins cost the current one.
      if (passwordNeedsRehash(user.encrypted_password)) {
        await this.repo.replacePasswordHash(t, user.id, user.encrypted_password, await hashPassword(body.password));
      }
      return this.startSession(project, s, t, user, 'password', call);
    });
  }

  /**
   * `grant_type=refresh_token`: rotation. A spent token replayed within the project's reuse interval (two tabs
   * refreshing at once) gets the session's current refresh token, the one the first exchange returned; replayed
   * later, it revokes its whole session.
   */
  async refreshGrant(call: AuthCall, body: { refresh_token: string }): Promise<TokenResponse> {
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    await this.limits.check(project.id, s, 'refresh', call.ip);
    return this.repo.run(project, async (t) => {
      const next = newRefreshToken();
      const sealed = this.box.seal(next, refreshSealContext(project.id));
      const outcome = await this.repo.rotateRefreshToken(t, hashRefreshToken(body.refresh_token), hashRefreshToken(next), sealed, s.refresh_token_reuse_interval_seconds);
      if (outcome.status === 'not_found') throw GoTrueException.badRequest(GoTrueCode.RefreshTokenNotFound, 'Invalid Refresh Token: Refresh Token Not Found');
      let granted = outcome.status === 'ok' ? { userId: outcome.userId, amr: outcome.amr, refresh: next } : null;
      if (outcome.status === 'reused_recently') {
        granted = await this.currentRefreshToken(project, t, outcome.sessionId);
        if (!granted) await this.repo.deleteSession(t, outcome.sessionId);
      }
      if (!granted) {
        // The session is gone: its access tokens stop working on this instance now, as after a logout.
        this.tokens.forgetSessions(project.id, [outcome.sessionId]);
        throw GoTrueException.badRequest(GoTrueCode.RefreshTokenAlreadyUsed, 'Invalid Refresh Token: Already Used');
      }
      const user = await this.repo.findUser(t, { id: granted.userId });
      if (!user) throw GoTrueException.badRequest(GoTrueCode.RefreshTokenNotFound, 'Invalid Refresh Token: Refresh Token Not Found');
      this.assertNotBanned(user);
      return this.tokenResponse(project, s, user, outcome.sessionId, granted.amr, granted.refresh);
    });
  }

  /** The session's live refresh token, recovered from its sealed copy; null when it can't be (then the replay is theft). */
  private async currentRefreshToken(project: TenantProject, t: AuthScope, sessionId: string): Promise<{ refresh: string; userId: string; amr: Amr } | null> {
    const row = await this.repo.currentRefreshToken(t, sessionId);
    if (!row?.sealed || !row.liveHash) return null;
    let token: string;
    try {
      token = this.box.open(row.sealed, refreshSealContext(project.id));
    } catch {
      return null;
    }
    // The sealed copy must be the session's live token (not another session's value moved here).
    return SecretBox.equal(hashRefreshToken(token), row.liveHash) ? { refresh: token, userId: row.userId, amr: row.amr } : null;
  }

  /** The end user behind the call: verified by the gateway, or (secret-key calls) from the bearer here. */
  async caller(call: AuthCall): Promise<EndUser> {
    if (call.tenant.user) return call.tenant.user;
    if (!call.bearer) throw new GoTrueException(401, GoTrueCode.NoAuthorization, 'This endpoint requires a valid Bearer token');
    const user = await this.tokens.verify(call.tenant.project, call.bearer);
    if (!user) throw GoTrueException.forbidden(GoTrueCode.BadJwt, 'invalid JWT: unable to parse or verify signature, token is invalid or expired');
    return user;
  }

  async getUser(call: AuthCall): Promise<Record<string, unknown>> {
    const me = await this.caller(call);
    const user = await this.repo.run(call.tenant.project, (t) => this.repo.findUser(t, { id: me.id }));
    if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User from sub claim in JWT does not exist');
    return userView(user);
  }

  async updateUser(call: AuthCall, body: { email?: string; password?: string; data?: Record<string, unknown>; phone?: string }): Promise<Record<string, unknown>> {
    const me = await this.caller(call);
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    if (body.phone) throw GoTrueException.unprocessable(GoTrueCode.ValidationFailed, 'Phone numbers are not supported');
    const email = body.email !== undefined ? normalizeEmail(body.email) : undefined;
    if (body.password !== undefined) this.assertStrongPassword(s, body.password);
    return this.repo.run(project, async (t) => {
      const user = await this.repo.findUser(t, { id: me.id });
      if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User from sub claim in JWT does not exist');
      const fields: Record<string, unknown> = {};
      if (body.data) fields.user_metadata = { ...user.user_metadata, ...body.data };
      if (body.password !== undefined) {
        if (user.encrypted_password && (await verifyPassword(user.encrypted_password, body.password))) {
          throw GoTrueException.unprocessable(GoTrueCode.SamePassword, 'New password should be different from the old password.');
        }
        fields.encrypted_password = await hashPassword(body.password);
      }
      const changeEmail = email !== undefined && email !== user.email;
      if (changeEmail && (await this.repo.findUser(t, { email }))) {
        throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      }
      if (changeEmail && s.email_confirm_required) {
        await this.limits.checkEmailRequest(project.id, s, email, call.ip);
        await this.limits.spendEmailBudget(project.id, s);
      }
      let issued: IssuedCode | undefined;
      await this.repo.transaction(t, async (m) => {
        if (changeEmail && s.email_confirm_required) {
          fields.new_email = email;
          issued = await this.issueCode(m, call, s, t, { kind: 'email_change', email, userId: user.id, newEmail: email });
        } else if (changeEmail) {
          Object.assign(fields, { email, new_email: null, email_confirmed_at: new Date(), is_anonymous: false });
          await this.repo.upsertEmailIdentity(t, user.id, email, m);
        }
        await this.repo.updateUser(t, user.id, fields, m);
      }).catch(uniqueEmail);
      if (issued) await this.sendCode(issued);
      return userView((await this.repo.findUser(t, { id: user.id }))!);
    });
  }

  async logout(call: AuthCall, scope: 'local' | 'global' | 'others'): Promise<void> {
    const me = await this.caller(call);
    const project = call.tenant.project;
    const sessionId = typeof me.claims.session_id === 'string' ? me.claims.session_id : null;
    const ended = await this.repo.run(project, (t) => this.repo.deleteSessions(t, me.id, scope, sessionId));
    this.tokens.forgetSessions(project.id, ended);
  }

  /** `POST /otp`: a magic link and code; creates the user when allowed. Same answer whether the user exists or not. */
  async otp(call: AuthCall, body: { email?: string; phone?: string; create_user?: boolean; data?: Record<string, unknown> }): Promise<Record<string, never>> {
    const project = call.tenant.project;
    if (!body.email) throw GoTrueException.validation(body.phone ? 'Phone one-time codes are not supported' : 'An email address is required');
    const email = normalizeEmail(body.email);
    const s = await this.settingsOf(project);
    await this.limits.checkEmailRequest(project.id, s, email, call.ip);
    await this.repo.run(project, async (t) => {
      const existing = await this.repo.findUser(t, { email });
      if (existing && existing.banned_until && existing.banned_until.getTime() > Date.now()) return;
      // As GoTrue: a code for an unknown address that may not sign up is 422 otp_disabled (the per-address and per-IP
      // limits above come first, so this can't be used to test addresses quickly).
      if (!existing && (body.create_user === false || !s.signup_enabled)) throw GoTrueException.unprocessable(GoTrueCode.OtpDisabled, 'Signups not allowed for otp');
      await this.limits.spendEmailBudget(project.id, s);
      const issued = await this.repo.transaction(t, async (m) => {
        const userId = existing?.id ?? randomUUID();
        if (!existing) {
          await this.repo.createUser(t, { id: userId, email, passwordHash: null, confirmed: false, anonymous: false, userMetadata: body.data ?? {}, appMetadata: {} }, m);
        }
        return this.issueCode(m, call, s, t, { kind: 'magiclink', email, userId });
      });
      await this.sendCode(issued);
    });
    return {};
  }

  /**
   * `POST /resend`: a fresh confirmation (a new code and link, replacing what was sent) for an address still waiting
   * for one: a sign-up not yet confirmed, or an email change pending on the account whose current address this is.
   * The answer is the same whether or not anything was sent (no enumeration); the email limits come first.
   */
  async resend(call: AuthCall, body: { type: 'signup' | 'email_change'; email: string }): Promise<Record<string, never>> {
    const project = call.tenant.project;
    const email = normalizeEmail(body.email);
    const s = await this.settingsOf(project);
    await this.limits.checkEmailRequest(project.id, s, email, call.ip);
    await this.repo.run(project, async (t) => {
      const user = await this.repo.findUser(t, { email });
      if (!user || (user.banned_until && user.banned_until.getTime() > Date.now())) return;
      if (body.type === 'signup' && user.email_confirmed_at) return;
      if (body.type === 'email_change' && !user.new_email) return;
      await this.limits.spendEmailBudget(project.id, s);
      const issued = await this.repo.transaction(t, async (m) => {
        if (body.type === 'email_change') return this.issueCode(m, call, s, t, { kind: 'email_change', email: user.new_email!, userId: user.id, newEmail: user.new_email! });
        const code = await this.issueCode(m, call, s, t, { kind: 'signup', email, userId: user.id });
        await this.repo.updateUser(t, user.id, { confirmation_sent_at: new Date() }, m);
        return code;
      });
      await this.sendCode(issued);
    });
    return {};
  }

  /** `POST /recover`: a recovery link and code if the account exists; the answer never says. */
  async recover(call: AuthCall, body: { email: string }): Promise<Record<string, never>> {
    const project = call.tenant.project;
    const email = normalizeEmail(body.email);
    const s = await this.settingsOf(project);
    await this.limits.checkEmailRequest(project.id, s, email, call.ip);
    await this.repo.run(project, async (t) => {
      const user = await this.repo.findUser(t, { email });
      if (!user) return;
      await this.limits.spendEmailBudget(project.id, s);
      await this.sendCode(await this.repo.transaction(t, (m) => this.issueCode(m, call, s, t, { kind: 'recovery', email, userId: user.id })));
    });
    return {};
  }

  /** `POST /verify` with a code (`email` + `token`) or a link token (`token_hash`). */
  async verify(call: AuthCall, body: { type: string; token?: string; token_hash?: string; email?: string; phone?: string }): Promise<TokenResponse> {
    const project = call.tenant.project;
    if (body.type === 'sms' || body.type === 'phone_change') return this.verifyPhone(call, body.phone);
    if (!(VERIFY_TYPES as readonly string[]).includes(body.type)) throw GoTrueException.validation('Verify requires an email verification type');
    const type = body.type as VerifyType;
    const s = await this.settingsOf(project);
    return this.repo.run(project, async (t) => {
      let code: CodeRow | null;
      if (body.token_hash) {
        await this.limits.check(project.id, s, 'verify', call.ip);
        code = await this.repo.consumeLink(t, this.linkHash(project, body.token_hash), KINDS_FOR[type]);
      } else {
        if (!body.email || !body.token) throw GoTrueException.validation('Verify requires either a token_hash or an email and token');
        const email = normalizeEmail(body.email);
        await this.limits.check(project.id, s, 'verify', call.ip, email);
        const expected = body.token.trim();
        code = await this.repo.consumeCode(t, email, KINDS_FOR[type], (h) => SecretBox.equal(h, this.codeHash(project, email, expected)));
      }
      if (!code) throw otpInvalid();
      // Verified by the code itself: the answer is the session, and a PKCE flow waiting for this link is void.
      await this.pkce.forgetEmailedCode(t, code.id);
      return this.completeVerification(call, s, t, code);
    });
  }

  /**
   * `POST /verify` of a phone code: Plinth sends no SMS, so no phone code exists. Answered as GoTrue answers a code
   * that doesn't match (after its E.164 check), so clients handle it as they would there; counted like any guess.
   */
  private async verifyPhone(call: AuthCall, phone: string | undefined): Promise<never> {
    if (!phone) throw GoTrueException.validation('Verify requires a phone number');
    if (!/^[1-9][0-9]{1,14}$/.test(phone.replace(/[+\s]/g, ''))) throw GoTrueException.validation('Invalid phone number format (E.164 required)');
    const project = call.tenant.project;
    await this.limits.check(project.id, await this.settingsOf(project), 'verify', call.ip);
    throw otpInvalid();
  }

  /** `grant_type=pkce`: the auth code of a PKCE flow and its verifier, exchanged once for a session. */
  async pkceGrant(call: AuthCall, body: { auth_code: string; code_verifier: string }): Promise<TokenResponse> {
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    await this.limits.check(project.id, s, 'verify', call.ip);
    return this.repo.run(project, async (t) => {
      const flow = await this.pkce.exchange(project, t, body.auth_code, body.code_verifier);
      const user = await this.repo.findUser(t, { id: flow.user_id });
      if (!user) throw GoTrueException.notFound(GoTrueCode.FlowStateNotFound, 'invalid flow state, no valid flow state found');
      this.assertNotBanned(user);
      const session = await this.startSession(project, s, t, user, amrMethodOf(flow.auth_method), call);
      return { ...session, ...this.pkce.providerTokensOf(project, flow) };
    });
  }

  /** `GET /verify` (the emailed link): redirects with the session in the fragment, or the error. */
  async verifyLink(call: AuthCall, q: { token: string; type: VerifyType; redirect_to?: string }): Promise<string> {
    const project = call.tenant.project;
    const s = await this.settingsOf(project);
    const target = this.safeRedirect(s, q.redirect_to);
    try {
      await this.limits.check(project.id, s, 'verify', call.ip);
      const session = await this.repo.run(project, async (t) => {
        const code = await this.repo.consumeLink(t, this.linkHash(project, q.token), KINDS_FOR[q.type]);
        if (!code) throw otpInvalid();
        // A PKCE flow: the confirmation happens now, the session only when the app exchanges the code with its
        // verifier (the link alone, say read from a mailbox, yields nothing usable).
        const user = await this.applyVerification(call, t, code);
        const authCode = await this.pkce.authCodeForEmailedCode(project, t, code.id);
        if (authCode) return { authCode };
        return this.startSession(project, s, t, user, amrMethodOf(code.kind), call);
      });
      if ('authCode' in session) return withQuery(target, { code: session.authCode });
      const fragment = new URLSearchParams({
        access_token: session.access_token,
        expires_at: String(session.expires_at),
        expires_in: String(session.expires_in),
        refresh_token: session.refresh_token,
        token_type: 'bearer',
        type: q.type,
      });
      return `${target}#${fragment.toString()}`;
    } catch (e) {
      if (!(e instanceof GoTrueException)) throw e;
      const fragment = new URLSearchParams({ error: 'access_denied', error_code: e.errorCode, error_description: e.message });
      return `${target}#${fragment.toString()}`;
    }
  }

  private async completeVerification(call: AuthCall, s: AuthSettings, t: AuthScope, code: CodeRow): Promise<TokenResponse> {
    const user = await this.applyVerification(call, t, code);
    return this.startSession(call.tenant.project, s, t, user, amrMethodOf(code.kind), call);
  }

  /** What a verified code proves (a confirmed address, a changed email), applied; the user as it is now. */
  private async applyVerification(call: AuthCall, t: AuthScope, code: CodeRow): Promise<UserRow> {
    const project = call.tenant.project;
    if (!code.user_id) throw otpInvalid();
    const user = await this.repo.findUser(t, { id: code.user_id });
    if (!user) throw otpInvalid();
    this.assertNotBanned(user);
    const ended = await this.repo.transaction(t, async (m): Promise<string[]> => {
      if (code.kind === 'email_change') {
        if (user.new_email !== code.email) throw otpInvalid();
        await this.repo.updateUser(t, user.id, { email: code.email, new_email: null, email_confirmed_at: new Date(), is_anonymous: false }, m);
        await this.repo.upsertEmailIdentity(t, user.id, code.email, m);
        return [];
      }
      const current = await this.repo.findUser(t, { id: user.id }, m, true);
      if (!current) throw otpInvalid();
      if (current.email_confirmed_at) return [];
      // The first proof that the address's owner is here: what was set before it may be someone else's. A
      // signup code confirms the password it was sent with (a later signup replaces both); a magic link, OTP,
      // invite or recovery code confirms no password, so one set before is cleared (the owner sets theirs
      // with PUT /user). Every session issued before the confirmation ends.
      const fields: Record<string, unknown> = { email_confirmed_at: new Date() };
      if (code.kind !== 'signup') fields.encrypted_password = null;
      await this.repo.updateUser(t, user.id, fields, m);
      return this.repo.deleteSessions(t, user.id, 'global', null, m);
    }).catch(uniqueEmail);
    this.tokens.forgetSessions(project.id, ended);
    return (await this.repo.findUser(t, { id: user.id }))!;
  }

  /**
   * Creates a one-time code + link in the caller's transaction; its email goes out with {@link sendCode} once that
   * transaction has committed (the codes live on the tenant pool, the outbox on the control plane: no transaction
   * spans both, and an email for a code that was rolled back would carry a dead link).
   */
  async issueCode(
    m: AuthTx,
    call: Pick<AuthCall, 'tenant' | 'redirectTo' | 'pkce'>,
    s: AuthSettings,
    t: AuthScope,
    c: { kind: CodeKind; email: string; userId: string | null; newEmail?: string },
  ): Promise<IssuedCode> {
    const project = call.tenant.project;
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const link = randomBytes(32).toString('base64url');
    const id = randomUUID();
    await this.repo.createCode(
      t,
      { id, kind: c.kind, email: c.email, userId: c.userId, codeHash: this.codeHash(project, c.email, code), linkHash: this.linkHash(project, link), ttlSeconds: s.otp_ttl_seconds },
      m,
    );
    if (call.pkce) await this.pkce.attachToCode(m, t, call.pkce, { codeId: id, userId: c.userId, authMethod: c.kind, ttlSeconds: s.otp_ttl_seconds });
    const redirectTo = this.safeRedirect(s, call.redirectTo);
    const actionLink =
      `${this.tokens.issuer(project.ref)}/verify?` + new URLSearchParams({ token: link, type: LINK_TYPE[c.kind], redirect_to: redirectTo }).toString();
    const email: SendAuthEmailData = {
      orgId: project.orgId,
      projectId: project.id,
      ref: project.ref,
      to: c.email,
      template: TEMPLATE[c.kind],
      sealed: this.box.seal(JSON.stringify({ token: code, tokenHash: link, confirmationUrl: actionLink, redirectTo, newEmail: c.newEmail }), emailSealContext(project.id, c.email)),
    };
    return { id, code, link, actionLink, redirectTo, email };
  }

  /** Enqueues the email of a code whose transaction committed (the outbox is a control table). */
  async sendCode(issued: IssuedCode): Promise<void> {
    await this.tx.run((m) => this.outbox.enqueue(m, { queue: QUEUES.email, name: SEND_AUTH_EMAIL_JOB, data: issued.email }));
  }

  /** A new session with its first refresh token, and the token response. */
  async startSession(project: TenantProject, s: AuthSettings, t: AuthScope, user: UserRow, method: string, call: Pick<AuthCall, 'ip' | 'userAgent'>): Promise<TokenResponse> {
    const sessionId = randomUUID();
    const refresh = newRefreshToken();
    const amr: Amr = [{ method, timestamp: Math.floor(Date.now() / 1000) }];
    await this.repo.createSession(t, { sessionId, userId: user.id, amr, userAgent: call.userAgent?.slice(0, 512) ?? null, ip: call.ip, refreshHash: hashRefreshToken(refresh) });
    return this.tokenResponse(project, s, { ...user, last_sign_in_at: new Date() }, sessionId, amr, refresh);
  }

  /** The token response for a session whose refresh token `refresh` was just stored. */
  async tokenResponse(project: TenantProject, s: AuthSettings, user: UserRow, sessionId: string, amr: Amr, refresh: string): Promise<TokenResponse> {
    const { token, expiresAt } = await this.tokens.sign(project, { user, sessionId, amr, ttlSeconds: s.access_token_ttl_seconds });
    this.mau.touch(project.id, user.id);
    return { access_token: token, token_type: 'bearer', expires_in: s.access_token_ttl_seconds, expires_at: expiresAt, refresh_token: refresh, user: userView(user) };
  }

  /** An allowed redirect (site URL's origin or the allow-list, matched on the parsed URL); anything else falls back to the site URL. */
  safeRedirect(s: AuthSettings, candidate: string | undefined): string {
    return allowedRedirect(s.site_url ?? this.config.http.publicUrl, s.redirect_urls, candidate);
  }

  async settingsOf(project: TenantProject): Promise<AuthSettings> {
    return (await this.settings.get(project.id)).settings;
  }

  assertStrongPassword(s: AuthSettings, password: string): void {
    if (password.length > 128) throw GoTrueException.validation('Password cannot be longer than 128 characters');
    const reasons = weakPasswordReasons(password, s.password_min_length, s.password_required_characters);
    if (reasons.length) {
      const msg = reasons.includes('length')
        ? `Password should be at least ${s.password_min_length} characters.`
        : 'Password should contain the required character classes.';
      throw GoTrueException.unprocessable(GoTrueCode.WeakPassword, msg, { weak_password: { reasons } });
    }
  }

  private assertNotBanned(user: UserRow): void {
    if (user.banned_until && user.banned_until.getTime() > Date.now()) throw GoTrueException.badRequest(GoTrueCode.UserBanned, 'User is banned');
  }

  private codeHash(project: TenantProject, email: string, code: string): string {
    return this.box.mac(code, `code:${project.id}:${email}`);
  }

  private linkHash(project: TenantProject, link: string): string {
    return this.box.mac(link, `link:${project.id}`);
  }
}

/** The `amr` method of a session started by a verified code of `kind`, or by a PKCE flow of that auth method. */
function amrMethodOf(kind: string): string {
  return kind === 'signup' || kind === 'magiclink' ? 'otp' : kind;
}

/** `url` with `params` added to its query (before any fragment); a URL that doesn't parse gets them appended. */
function withQuery(url: string, params: Record<string, string>): string {
  try {
    const u = new URL(url);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.toString();
  } catch {
    return `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(params).toString()}`;
  }
}

/** 32 random base64url characters (192 bits); only a SHA-256 is stored. */
export function newRefreshToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The AES-GCM context of a session's sealed refresh token: bound to its project. */
const refreshSealContext = (projectId: string) => `refresh-token:${projectId}`;

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function uniqueEmail(e: unknown): never {
  if ((e as { code?: string }).code === '23505') throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
  throw e;
}
