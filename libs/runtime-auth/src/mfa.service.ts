import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { toString as qrSvg } from 'qrcode';
import { z } from 'zod';
import { Clock } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { TenantContext } from '@plinth/gateway';
import { AuthLimitsService } from './auth-limits.service';
import { AuthRepository, AuthScope } from './auth.repository';
import { AuthTokensService } from './auth-tokens.service';
import { factorView } from './auth-user.view';
import { AuthCall, AuthService, hashRefreshToken, newRefreshToken, TokenResponse } from './auth.service';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { FactorRow, MfaRepository } from './mfa.repository';
import { SecretBox } from './secret-box';

export const enrollSchema = z.object({
  factor_type: z.string().max(20),
  friendly_name: z.string().max(120).optional(),
  issuer: z.string().max(120).optional(),
  phone: z.string().max(50).optional(),
});
export const challengeSchema = z.object({ channel: z.string().max(10).optional() });
export const verifyFactorSchema = z.object({ challenge_id: z.string().max(64), code: z.string().max(20) });

/** GoTrue's defaults: 10 factors per user, challenges live 5 minutes; TOTP per RFC 6238 (SHA-1, 6 digits, 30 s). */
const MAX_FACTORS = 10;
const CHALLENGE_TTL_MS = 300_000;
const PERIOD_S = 30;
/** Wrong codes a challenge takes before it is dead (a new challenge is needed; the verify rate limit applies too). */
const MAX_ATTEMPTS = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const factorNotFound = () => GoTrueException.notFound(GoTrueCode.MfaFactorNotFound, 'Factor not found');

/**
 * Multi-factor authentication with TOTP, as GoTrue serves it to `supabase.auth.mfa`: enroll (secret, otpauth URI,
 * QR code as SVG), challenge, verify (the session becomes aal2 and gets new tokens), unenroll; and the admin
 * API's list/delete. Secrets are stored sealed (AES-GCM bound to the project and factor). A code is accepted
 * within ±1 time step, once: the factor remembers the last accepted step, so a replayed (or older) code fails.
 */
@Injectable()
export class MfaService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly auth: AuthService,
    private readonly users: AuthRepository,
    private readonly repo: MfaRepository,
    private readonly box: SecretBox,
    private readonly limits: AuthLimitsService,
    private readonly tokens: AuthTokensService,
    private readonly clock: Clock,
  ) {}

  /** `POST /factors`. */
  async enroll(call: AuthCall, body: z.infer<typeof enrollSchema>): Promise<Record<string, unknown>> {
    const me = await this.auth.caller(call);
    const project = call.tenant.project;
    if (body.factor_type === 'phone') throw new GoTrueException(422, 'mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone');
    if (body.factor_type === 'webauthn') throw new GoTrueException(422, 'mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn');
    if (body.factor_type !== 'totp') throw GoTrueException.validation('factor_type needs to be totp, phone, or webauthn');
    const s = await this.auth.settingsOf(project);
    const friendlyName = body.friendly_name ?? '';
    return this.users.run(project, async (t) => {
      const user = await this.users.findUser(t, { id: me.id });
      if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User from sub claim in JWT does not exist');
      const id = randomUUID();
      const secret = new Secret({ size: 20 });
      const issuer = body.issuer || hostOf(s.site_url ?? this.config.http.publicUrl);
      const totp = new TOTP({ issuer, label: user.email || user.id, algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret });
      const uri = totp.toString();
      await this.repo.transaction(t, async (tx) => {
        // Serialises enrolments of one user, so the limits below hold under concurrent requests.
        await this.users.findUser(t, { id: me.id }, tx, true);
        const factors = await this.repo.listFactors(t, me.id, tx);
        if (factors.some((f) => f.friendly_name === friendlyName)) {
          throw GoTrueException.unprocessable(GoTrueCode.MfaFactorNameConflict, `A factor with the friendly name "${friendlyName}" for this user already exists`);
        }
        if (factors.length >= MAX_FACTORS) throw GoTrueException.unprocessable(GoTrueCode.TooManyEnrolledMfaFactors, 'Maximum number of verified factors reached, unenroll to continue');
        if (factors.some((f) => f.status === 'verified') && me.claims.aal !== 'aal2') {
          throw GoTrueException.forbidden(GoTrueCode.InsufficientAal, 'AAL2 required to enroll a new factor');
        }
        await this.repo.createFactor(t, { id, userId: me.id, friendlyName, factorType: 'totp', secretEnc: this.box.seal(secret.base32, secretContext(project.id, id)), now: this.clock.now() }, tx);
      });
      const qr = await qrSvg(uri, { type: 'svg', errorCorrectionLevel: 'H', margin: 1 });
      return { id, type: 'totp', friendly_name: friendlyName, totp: { qr_code: qr, secret: secret.base32, uri } };
    });
  }

  /** `POST /factors/:id/challenge`. */
  async challenge(call: AuthCall, factorId: string, body: z.infer<typeof challengeSchema>): Promise<Record<string, unknown>> {
    const me = await this.auth.caller(call);
    if (body.channel) throw GoTrueException.validation('channel applies to phone factors only');
    if (!UUID.test(factorId)) throw factorNotFound();
    const now = this.clock.now();
    const id = randomUUID();
    const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
    const created = await this.users.run(call.tenant.project, (t) => this.repo.createChallenge(t, { id, factorId, userId: me.id, ip: call.ip, now, expiresAt }));
    if (!created) throw factorNotFound();
    return { id, type: 'totp', expires_at: Math.floor(expiresAt.getTime() / 1000) };
  }

  /** `POST /factors/:id/verify`: a correct code raises the caller's session to aal2 and answers with new tokens. */
  async verify(call: AuthCall, factorId: string, body: z.infer<typeof verifyFactorSchema>): Promise<TokenResponse> {
    const me = await this.auth.caller(call);
    const project = call.tenant.project;
    const s = await this.auth.settingsOf(project);
    await this.limits.check(project.id, s, 'verify', call.ip, `mfa:${me.id}`);
    const sessionId = typeof me.claims.session_id === 'string' ? me.claims.session_id : null;
    if (!UUID.test(factorId) || !UUID.test(body.challenge_id) || !sessionId) {
      throw GoTrueException.unprocessable(GoTrueCode.MfaFactorNotFound, 'MFA factor with the provided challenge ID not found');
    }
    const nowMs = this.clock.nowMs();
    return this.users.run(project, async (t) => {
      const refresh = newRefreshToken();
      const outcome = await this.repo.transaction(t, async (tx) => {
        const found = await this.repo.lockChallenge(t, tx, me.id, factorId, body.challenge_id);
        if (!found) return { error: GoTrueException.unprocessable(GoTrueCode.MfaFactorNotFound, 'MFA factor with the provided challenge ID not found') };
        const { challenge, factor } = found;
        if (challenge.expires_at.getTime() <= nowMs || challenge.attempts >= MAX_ATTEMPTS) {
          await this.repo.deleteChallenge(t, tx, challenge.id);
          return { error: GoTrueException.unprocessable(GoTrueCode.MfaChallengeExpired, `MFA challenge ${challenge.id} has expired, verify against another challenge or create a new challenge.`) };
        }
        if (challenge.ip !== call.ip) return { error: GoTrueException.unprocessable(GoTrueCode.MfaIpAddressMismatch, 'Challenge and verify IP addresses mismatch.') };
        const step = this.acceptedStep(project.id, factor, body.code.trim(), nowMs);
        if (step === null) {
          await this.repo.countFailedAttempt(t, tx, challenge.id);
          return { error: GoTrueException.unprocessable(GoTrueCode.MfaVerificationFailed, 'Invalid TOTP code entered') };
        }
        await this.repo.acceptCode(t, tx, factor, challenge.id, step, new Date(nowMs));
        const elevated = await this.repo.elevateSession(t, tx, {
          userId: me.id, sessionId, entry: { method: 'totp', timestamp: Math.floor(nowMs / 1000), factor_id: factor.id }, refreshHash: hashRefreshToken(refresh),
        });
        if (!elevated) return { error: GoTrueException.forbidden(GoTrueCode.SessionNotFound, 'Session from session_id claim in JWT does not exist') };
        return { elevated };
      });
      // Failed attempts are committed before the error goes out (so they count).
      if ('error' in outcome) throw outcome.error;
      this.tokens.forgetSessions(project.id, outcome.elevated.ended);
      const user = await this.users.findUser(t, { id: me.id });
      if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User from sub claim in JWT does not exist');
      return this.auth.tokenResponse(project, s, user, sessionId, outcome.elevated.amr, refresh);
    });
  }

  /** `DELETE /factors/:id`: a verified factor only from an aal2 session (GoTrue's rule). */
  async unenroll(call: AuthCall, factorId: string): Promise<{ id: string }> {
    const me = await this.auth.caller(call);
    if (!UUID.test(factorId)) throw factorNotFound();
    return this.users.run(call.tenant.project, async (t) => {
      const factor = await this.repo.findFactor(t, me.id, factorId);
      if (!factor) throw factorNotFound();
      if (factor.status === 'verified' && me.claims.aal !== 'aal2') {
        throw GoTrueException.unprocessable(GoTrueCode.InsufficientAal, 'AAL2 required to unenroll verified factor');
      }
      if (!(await this.repo.deleteFactor(t, me.id, factorId))) throw factorNotFound();
      return { id: factorId };
    });
  }

  /** `GET /admin/users/:id/factors` (secret key). */
  async adminList(tenant: TenantContext, userId: string): Promise<Record<string, unknown>[]> {
    assertAdmin(tenant);
    if (!UUID.test(userId)) throw GoTrueException.notFound(GoTrueCode.UserNotFound, 'User not found');
    return this.users.run(tenant.project, async (t) => {
      if (!(await this.users.findUser(t, { id: userId }))) throw GoTrueException.notFound(GoTrueCode.UserNotFound, 'User not found');
      return (await this.repo.listFactors(t, userId)).map(factorView);
    });
  }

  /** `DELETE /admin/users/:id/factors/:factorId` (secret key): no aal2 needed (account recovery). */
  async adminDelete(tenant: TenantContext, userId: string, factorId: string): Promise<Record<string, unknown>> {
    assertAdmin(tenant);
    if (!UUID.test(userId) || !UUID.test(factorId)) throw factorNotFound();
    const deleted = await this.users.run(tenant.project, (t: AuthScope) => this.repo.deleteFactor(t, userId, factorId));
    if (!deleted) throw factorNotFound();
    return factorView(deleted);
  }

  /** The time step of a valid, not yet used code of the factor (±1 step), or null. */
  private acceptedStep(projectId: string, factor: FactorRow, code: string, nowMs: number): number | null {
    if (!/^\d{6}$/.test(code)) return null;
    const secret = Secret.fromBase32(this.box.open(factor.secret_enc, secretContext(projectId, factor.id)));
    const delta = TOTP.validate({ token: code, secret, algorithm: 'SHA1', digits: 6, period: PERIOD_S, timestamp: nowMs, window: 1 });
    if (delta === null) return null;
    const step = Math.floor(nowMs / 1000 / PERIOD_S) + delta;
    return step > Number(factor.last_used_step) ? step : null;
  }
}

function secretContext(projectId: string, factorId: string): string {
  return `mfa-totp:${projectId}:${factorId}`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'plinth';
  }
}

function assertAdmin(tenant: TenantContext): void {
  if (tenant.role !== 'service') throw GoTrueException.forbidden(GoTrueCode.NotAdmin, 'User not allowed');
}
