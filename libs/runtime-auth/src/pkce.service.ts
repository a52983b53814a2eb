import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '@plinth/common';
import type { TenantProject } from '@plinth/gateway';
import type { AuthScope, AuthTx } from './auth.repository';
import { FlowStateRepository, FlowStateRow } from './flow-state.repository';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { PkceChallenge, verifierMatches } from './pkce';
import { SecretBox } from './secret-box';

/** An OAuth provider's access and refresh token, as GoTrue hands them to the app after a sign-in. */
export interface ProviderTokens {
  provider_token?: string;
  provider_refresh_token?: string;
}

/** How long an issued auth code may be exchanged (GoTrue's flow-state expiry: 5 minutes). */
export const AUTH_CODE_TTL_SECONDS = 300;

/**
 * The PKCE flow (RFC 7636) as GoTrue runs it: a request that sends an email (sign-up, magic link, recovery, email
 * change) or starts an OAuth redirect with an S256 `code_challenge` stores a flow; when the link is followed (or
 * the provider calls back) the app's redirect gets `?code=<auth code>` instead of tokens, and only the holder of
 * the verifier can exchange it (`POST /token?grant_type=pkce`), once, within {@link AUTH_CODE_TTL_SECONDS}. Auth
 * codes are stored as keyed hashes bound to the project, so a code is meaningless in any other project.
 */
@Injectable()
export class PkceService {
  constructor(
    private readonly flows: FlowStateRepository,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {}

  /** Records that emailed code `codeId` belongs to a PKCE flow (in the transaction that creates the code). */
  async attachToCode(
    m: AuthTx,
    t: AuthScope,
    pkce: PkceChallenge,
    c: { codeId: string; userId: string | null; authMethod: string; ttlSeconds: number },
  ): Promise<void> {
    const now = this.clock.now();
    await this.flows.create(
      t,
      {
        id: randomUUID(), userId: c.userId, codeId: c.codeId, authMethod: c.authMethod, provider: 'email', codeChallenge: pkce.challenge, data: {},
        expiresAt: new Date(now.getTime() + c.ttlSeconds * 1000),
      },
      now,
      m,
    );
  }

  /** The auth code for a just-consumed emailed code, or null when that code was not part of a PKCE flow. */
  async authCodeForEmailedCode(project: TenantProject, t: AuthScope, codeId: string): Promise<string | null> {
    const code = randomUUID();
    const now = this.clock.now();
    const flow = await this.flows.issueForCode(t, codeId, this.hash(project, code), this.expiry(now), now);
    return flow ? code : null;
  }

  /** Drops the flow of an emailed code that was verified directly (`POST /verify`), which answers with tokens. */
  async forgetEmailedCode(t: AuthScope, codeId: string): Promise<void> {
    await this.flows.deleteForCode(t, codeId);
  }

  /**
   * A fresh auth code for the user an OAuth flow with `challenge` signed in (its state was spent by the callback).
   * The provider's tokens wait with it, sealed to this flow, for the exchange to hand them over (as GoTrue's flow
   * state keeps them); the flow row is deleted by that exchange or swept when it expires.
   */
  async authCodeForOAuth(
    project: TenantProject,
    t: AuthScope,
    c: { userId: string; challenge: string; provider: string; providerTokens?: ProviderTokens },
  ): Promise<string> {
    const code = randomUUID();
    const now = this.clock.now();
    const id = randomUUID();
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(c.providerTokens ?? {})) if (v) data[k] = this.box.seal(v, this.tokenContext(project, id));
    await this.flows.create(
      t,
      { id, userId: c.userId, codeId: null, authMethod: 'oauth', provider: c.provider, codeChallenge: c.challenge, data, expiresAt: this.expiry(now), authCodeHash: this.hash(project, code) },
      now,
    );
    return code;
  }

  /** The provider tokens an exchanged OAuth flow carried (empty for other flows). */
  providerTokensOf(project: TenantProject, flow: FlowStateRow): ProviderTokens {
    const out: ProviderTokens = {};
    for (const k of ['provider_token', 'provider_refresh_token'] as const) {
      const sealed = flow.data[k];
      if (typeof sealed === 'string') out[k] = this.box.open(sealed, this.tokenContext(project, flow.id));
    }
    return out;
  }

  private tokenContext(project: TenantProject, flowId: string): string {
    return `oauth-provider-tokens:${project.id}:${flowId}`;
  }

  /**
   * `grant_type=pkce`: spends the auth code (even when the verifier is wrong, so a stolen code can't be tried
   * against guesses) and returns its flow, or GoTrue's errors: 404 flow_state_not_found, 422 flow_state_expired,
   * 400 bad_code_verifier.
   */
  async exchange(project: TenantProject, t: AuthScope, authCode: string, verifier: string): Promise<FlowStateRow & { user_id: string }> {
    const flow = await this.flows.takeByAuthCode(t, this.hash(project, authCode));
    if (!flow || !flow.user_id || !flow.code_challenge) {
      throw GoTrueException.notFound(GoTrueCode.FlowStateNotFound, 'invalid flow state, no valid flow state found');
    }
    if (new Date(flow.expires_at).getTime() <= this.clock.nowMs()) {
      throw GoTrueException.unprocessable(GoTrueCode.FlowStateExpired, 'invalid flow state, flow state has expired');
    }
    if (!verifierMatches(verifier, flow.code_challenge)) {
      throw GoTrueException.badRequest(GoTrueCode.BadCodeVerifier, 'code challenge does not match previously saved code verifier');
    }
    return { ...flow, user_id: flow.user_id };
  }

  private expiry(now: Date): Date {
    return new Date(now.getTime() + AUTH_CODE_TTL_SECONDS * 1000);
  }

  private hash(project: TenantProject, authCode: string): string {
    return this.box.mac(authCode, `pkce:${project.id}`);
  }
}
