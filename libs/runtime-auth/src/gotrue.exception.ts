import { WireException } from '@plinth/common';
import type { ErrorDialect, StandardError } from '@plinth/gateway';

/** GoTrue's error codes that Plinth's auth runtime answers with (`error_code` on the wire). */
export enum GoTrueCode {
  ValidationFailed = 'validation_failed',
  BadJson = 'bad_json',
  EmailInvalid = 'email_address_invalid',
  InvalidCredentials = 'invalid_credentials',
  EmailNotConfirmed = 'email_not_confirmed',
  UserAlreadyExists = 'user_already_exists',
  EmailExists = 'email_exists',
  WeakPassword = 'weak_password',
  SamePassword = 'same_password',
  SignupDisabled = 'signup_disabled',
  OtpDisabled = 'otp_disabled',
  AnonymousDisabled = 'anonymous_provider_disabled',
  OtpExpired = 'otp_expired',
  RefreshTokenNotFound = 'refresh_token_not_found',
  RefreshTokenAlreadyUsed = 'refresh_token_already_used',
  NoAuthorization = 'no_authorization',
  BadJwt = 'bad_jwt',
  SessionNotFound = 'session_not_found',
  UserNotFound = 'user_not_found',
  UserBanned = 'user_banned',
  NotAdmin = 'not_admin',
  ReauthenticationNeeded = 'reauthentication_needed',
  ReauthenticationNotValid = 'reauthentication_not_valid',
  OverRequestRateLimit = 'over_request_rate_limit',
  OverEmailSendRateLimit = 'over_email_send_rate_limit',
  UnexpectedFailure = 'unexpected_failure',
  FlowStateNotFound = 'flow_state_not_found',
  FlowStateExpired = 'flow_state_expired',
  BadCodeVerifier = 'bad_code_verifier',
  InsufficientAal = 'insufficient_aal',
  MfaFactorNotFound = 'mfa_factor_not_found',
  MfaFactorNameConflict = 'mfa_factor_name_conflict',
  TooManyEnrolledMfaFactors = 'too_many_enrolled_mfa_factors',
  MfaChallengeExpired = 'mfa_challenge_expired',
  MfaVerificationFailed = 'mfa_verification_failed',
  MfaIpAddressMismatch = 'mfa_ip_address_mismatch',
  ProviderDisabled = 'provider_disabled',
  BadOAuthState = 'bad_oauth_state',
  BadOAuthCallback = 'bad_oauth_callback',
  IdentityNotFound = 'identity_not_found',
  IdentityAlreadyExists = 'identity_already_exists',
  SingleIdentityNotDeletable = 'single_identity_not_deletable',
  ManualLinkingDisabled = 'manual_linking_disabled',
  SamlProviderDisabled = 'saml_provider_disabled',
  ProviderEmailNeedsVerification = 'provider_email_needs_verification',
}

/**
 * A GoTrue-shaped error: `{code: <status>, error_code, msg}` with GoTrue's status. It is a WireException, so the
 * global filter sends it unchanged. `extra` adds fields such as `weak_password: {reasons}`.
 */
export class GoTrueException extends WireException {
  constructor(status: number, readonly errorCode: GoTrueCode | string, msg: string, headers?: Record<string, string>, extra?: Record<string, unknown>) {
    super(status, { code: status, error_code: errorCode, msg, ...extra }, headers);
    this.message = msg;
    this.name = 'GoTrueException';
  }

  static badRequest(code: GoTrueCode, msg: string): GoTrueException {
    return new GoTrueException(400, code, msg);
  }
  static validation(msg: string): GoTrueException {
    return new GoTrueException(400, GoTrueCode.ValidationFailed, msg);
  }
  static unprocessable(code: GoTrueCode, msg: string, extra?: Record<string, unknown>): GoTrueException {
    return new GoTrueException(422, code, msg, undefined, extra);
  }
  static forbidden(code: GoTrueCode, msg: string): GoTrueException {
    return new GoTrueException(403, code, msg);
  }
  static notFound(code: GoTrueCode, msg: string): GoTrueException {
    return new GoTrueException(404, code, msg);
  }
  static tooManyRequests(code: GoTrueCode, msg: string, retryAfterMs: number): GoTrueException {
    return new GoTrueException(429, code, msg, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
  }
}

/** What GoTrue would answer for the errors raised outside the auth runtime's code (the edge: key, admission, body). */
const STANDARD_TO_GOTRUE: Record<string, { status?: number; code: GoTrueCode | string; msg?: string }> = {
  validation_failed: { code: GoTrueCode.ValidationFailed },
  bad_request: { code: GoTrueCode.ValidationFailed },
  malformed_json: { code: GoTrueCode.BadJson, msg: 'Could not parse request body as JSON' },
  unsupported_media_type: { code: GoTrueCode.BadJson },
  // An invalid end-user token: GoTrue answers 403 bad_jwt (supabase-js then drops the session).
  unauthorized: { status: 403, code: GoTrueCode.BadJwt, msg: 'invalid JWT: unable to parse or verify signature, token is invalid or expired' },
  invalid_api_key: { code: 'invalid_api_key' },
  rate_limited: { code: GoTrueCode.OverRequestRateLimit },
  internal_error: { code: GoTrueCode.UnexpectedFailure },
};

/** Renders every error under `/p/:ref/auth/v1` in GoTrue's shape, whoever raised it (registered with the edge). */
export const GOTRUE_DIALECT: ErrorDialect = {
  render: (e: StandardError) => {
    const m = STANDARD_TO_GOTRUE[e.code] ?? { code: e.code };
    const status = m.status ?? e.status;
    const body: Record<string, unknown> = { code: status, error_code: m.code, msg: m.msg ?? e.message };
    if (e.errorId) body.error_id = e.errorId;
    return new WireException(status, body, e.headers);
  },
};
