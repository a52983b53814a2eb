import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { createRemoteJWKSet, customFetch as joseCustomFetch, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { z } from 'zod';
import { Clock, outboundFetch } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { EndUser, TenantProject } from '@plinth/gateway';
import type { AuthSettings } from './auth-config.dto';
import { AuthConfigService } from './auth-config.service';
import { AuthLimitsService } from './auth-limits.service';
import { AuthRepository, AuthScope, AuthTx } from './auth.repository';
import { AuthTokensService } from './auth-tokens.service';
import { normalizeEmail } from './auth.dto';
import { AuthCall, AuthService, IssuedCode, TokenResponse } from './auth.service';
import { FlowStateRepository, FlowStateRow } from './flow-state.repository';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { IdentityRepository } from './identity.repository';
import { DEFAULT_ISSUERS, DEFAULT_SCOPES, OAUTH_PROVIDERS, OAuthProviderName, StoredProvider } from './oauth-providers';
import { pkceOf } from './pkce';
import { PkceService, ProviderTokens } from './pkce.service';
import { AppleSecretCache, azureIssuerProblem, isAzureMultiTenant } from './provider-quirks';
import { SecretBox } from './secret-box';

export const authorizeQuerySchema = z.object({
  provider: z.string().max(40),
  redirect_to: z.string().max(2000).optional(),
  scopes: z.string().max(1000).optional(),
  code_challenge: z.string().max(200).optional(),
  code_challenge_method: z.string().max(20).optional(),
  skip_http_redirect: z.string().max(10).optional(),
});
export const callbackQuerySchema = z.object({
  state: z.string().max(200).optional(),
  code: z.string().max(2000).optional(),
  error: z.string().max(200).optional(),
  error_description: z.string().max(1000).optional(),
});

/** `POST /token?grant_type=id_token` (supabase-js signInWithIdToken): an ID token the app got from the provider itself. */
export const idTokenGrantSchema = z.object({
  provider: z.string().max(40).optional(),
  id_token: z.string().max(20_000).optional(),
  access_token: z.string().max(20_000).optional(),
  nonce: z.string().max(1000).optional(),
});

/** How long the app's user has at the provider (GoTrue's OAuth state lives about as long). */
const FLOW_TTL_MS = 10 * 60_000;
/** GitHub's endpoints; an `issuer` on the github provider is a GitHub Enterprise Server (API under /api/v3). */
function githubEndpoints(base: string | null) {
  const root = (base ?? 'https://github.com').replace(/\/+$/, '');
  return {
    issuer: root,
    authorization_endpoint: `${root}/login/oauth/authorize`,
    token_endpoint: `${root}/login/oauth/access_token`,
    api: base ? `${root}/api/v3` : 'https://api.github.com',
  };
}

interface ProviderUser {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  data: Record<string, unknown>;
}

/** Who signed in, and the provider's tokens (handed to the app once, never stored beyond the PKCE exchange). */
interface ProviderSignIn {
  user: ProviderUser;
  tokens: ProviderTokens;
}

/** A sign-in that failed after the provider sent the user back: shown to the app in its redirect. */
class CallbackError extends Error {
  constructor(readonly error: string, readonly errorCode: string, readonly description: string) {
    super(description);
  }
}

/**
 * Sign-in with OAuth / OpenID Connect providers, GoTrue's way (`/authorize` → provider → `/callback` → the app):
 * the flow is a row of `_auth_flow_states` named by a `state` MAC'd with a per-project key (so it can't be forged,
 * moved to another project, or replayed: the callback deletes it), PKCE and an OIDC nonce towards the provider,
 * and openid-client for the code exchange and the ID token's checks (issuer, audience, nonce, signature from the
 * provider's JWKS). Every request to a provider goes through the outbound guard. The app gets the session in the
 * fragment (implicit flow) or `?code=` to exchange with its verifier (PKCE).
 */
/** What OAuthService reaches providers with (the outbound guard; tests put local stand-ins behind it). */
export const OAUTH_PROVIDER_FETCH = Symbol('OAUTH_PROVIDER_FETCH');
export type ProviderFetch = ReturnType<typeof outboundFetch>;

/** The outbound client for providers: the SSRF guard, bounded time and size. */
export function providerFetch(config: PlinthConfig): ProviderFetch {
  return outboundFetch({ allowPrivate: config.outbound.allowPrivate, timeoutMs: 10_000, maxBytes: 1_000_000, userAgent: 'Plinth-Auth' });
}

@Injectable()
export class OAuthService {
  private readonly logger = new Logger(OAuthService.name);
  private readonly clients = new Map<string, { key: string; config: Promise<oidc.Configuration> }>();
  private readonly appleSecrets: AppleSecretCache;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly auth: AuthService,
    private readonly settings: AuthConfigService,
    private readonly users: AuthRepository,
    private readonly identities: IdentityRepository,
    private readonly flows: FlowStateRepository,
    private readonly pkce: PkceService,
    private readonly tokens: AuthTokensService,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly limits: AuthLimitsService,
    @Inject(OAUTH_PROVIDER_FETCH) private readonly fetch: ProviderFetch,
  ) {
    this.appleSecrets = new AppleSecretCache(() => Math.floor(clock.nowMs() / 1000));
  }

  /**
   * `GET /authorize` (and, with `linkTo`, `GET /user/identities/authorize`): the provider's authorization URL for
   * a new flow. An unknown or disabled provider is a 400; a `redirect_to` off the allow-list becomes the site URL.
   */
  async authorize(call: AuthCall, q: z.infer<typeof authorizeQuerySchema>, linkTo?: EndUser): Promise<string> {
    const project = call.tenant.project;
    const s = await this.auth.settingsOf(project);
    if (linkTo) this.assertManualLinking(s);
    const name = q.provider as OAuthProviderName;
    const provider = (OAUTH_PROVIDERS as readonly string[]).includes(q.provider) ? s.providers[name] : undefined;
    if (!provider?.enabled) throw GoTrueException.badRequest(GoTrueCode.ProviderDisabled, 'Unsupported provider: Provider is not enabled');
    const appPkce = pkceOf(q);
    // Keyless and writing a row: limited per IP like sign-ins.
    await this.limits.check(project.id, s, 'sign_in', call.ip);
    const redirectTo = this.auth.safeRedirect(s, q.redirect_to);
    const client = await this.client(project, name, provider);
    const flowId = randomUUID();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const now = this.clock.now();
    await this.users.run(project, (t) =>
      this.flows.create(
        t,
        {
          id: flowId, userId: linkTo?.id ?? null, codeId: null, authMethod: linkTo ? 'link_identity' : 'oauth', provider: name,
          codeChallenge: appPkce?.challenge ?? null,
          data: { redirect_to: redirectTo, nonce, verifier: this.box.seal(verifier, this.flowContext(project, flowId)) },
          expiresAt: new Date(now.getTime() + FLOW_TTL_MS),
        },
        now,
      ),
    );
    const scope = [...new Set(`${DEFAULT_SCOPES[name]} ${provider.scopes} ${q.scopes ?? ''}`.split(/\s+/).filter(Boolean))].join(' ');
    const params: Record<string, string> = {
      redirect_uri: this.callbackUrl(project),
      scope,
      state: `${flowId}.${this.stateMac(project, flowId)}`,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    };
    if (name !== 'github') params.nonce = nonce;
    // Apple sends the callback as a form POST when scopes are asked for (and refuses a query response then).
    if (name === 'apple') params.response_mode = 'form_post';
    return oidc.buildAuthorizationUrl(client, params).href;
  }

  /**
   * `GET /callback`: where the provider sends the browser back. A state that isn't ours (or was used) is a 400;
   * anything that goes wrong after that goes back to the app as `error`/`error_code`/`error_description`.
   */
  async callback(call: AuthCall, rawQuery: string, q: z.infer<typeof callbackQuerySchema>): Promise<string> {
    const project = call.tenant.project;
    const [flowId, mac] = (q.state ?? '').split('.');
    if (!q.state) throw GoTrueException.badRequest(GoTrueCode.BadOAuthCallback, 'OAuth state parameter missing');
    if (!flowId || !mac || !/^[0-9a-f-]{36}$/.test(flowId) || !SecretBox.equal(mac, this.stateMac(project, flowId))) {
      throw GoTrueException.badRequest(GoTrueCode.BadOAuthState, 'OAuth callback with invalid state');
    }
    const flow = await this.users.run(project, (t) => this.flows.take(t, flowId));
    if (!flow) throw GoTrueException.badRequest(GoTrueCode.BadOAuthState, 'OAuth callback with invalid state');
    const redirectTo = String(flow.data.redirect_to);
    const isPkce = flow.code_challenge !== null;
    try {
      if (new Date(flow.expires_at).getTime() <= this.clock.nowMs()) throw new CallbackError('access_denied', GoTrueCode.FlowStateExpired, 'OAuth flow has expired, sign in again');
      if (q.error) throw new CallbackError(q.error, 'provider_error', q.error_description ?? q.error);
      if (!q.code) throw new CallbackError('invalid_request', GoTrueCode.BadOAuthCallback, 'OAuth callback without a code');
      const s = await this.auth.settingsOf(project);
      const name = flow.provider as OAuthProviderName;
      const provider = s.providers[name];
      if (!provider?.enabled) throw new CallbackError('access_denied', GoTrueCode.ProviderDisabled, 'Unsupported provider: Provider is not enabled');
      const { user: who, tokens } = await this.exchange(project, name, provider, flow, rawQuery, q.state);
      return await this.users.run(project, async (t) => {
        const user = await this.signInUser(call, s, t, flow, name, who);
        if (isPkce) {
          const code = await this.pkce.authCodeForOAuth(project, t, { userId: user.id, challenge: flow.code_challenge!, provider: name, providerTokens: tokens });
          return withParams(redirectTo, 'query', { code });
        }
        const session = await this.auth.startSession(project, s, t, user, 'oauth', call);
        // GoTrue's implicit redirect: the session, then the provider's tokens (the refresh token only when the
        // provider issued one), so the app can call the provider's API as the user.
        return withParams(redirectTo, 'fragment', {
          access_token: session.access_token,
          expires_at: String(session.expires_at),
          expires_in: String(session.expires_in),
          refresh_token: session.refresh_token,
          token_type: 'bearer',
          ...tokens,
          ...(flow.auth_method === 'link_identity' ? { type: 'link_identity' } : {}),
        });
      });
    } catch (e) {
      const failure =
        e instanceof CallbackError ? e
        : e instanceof GoTrueException ? new CallbackError(e.status >= 500 ? 'server_error' : 'access_denied', e.errorCode, e.message)
        : null;
      if (!failure) {
        this.logger.warn(`OAuth callback for project ${project.ref} failed: ${(e as Error).message}`);
        return withParams(redirectTo, isPkce ? 'query' : 'fragment', { error: 'server_error', error_code: GoTrueCode.BadOAuthCallback, error_description: 'Unable to exchange external code' });
      }
      return withParams(redirectTo, isPkce ? 'query' : 'fragment', { error: failure.error, error_code: failure.errorCode, error_description: failure.description });
    }
  }

  /**
   * `POST /token?grant_type=id_token`: signs in with an ID token the app got from an enabled OIDC provider (native
   * Google / Apple sign-in), as GoTrue's IdTokenGrant: signature from the provider's JWKS, issuer, audience = the
   * project's client id, and the nonce (the token carries sha256(nonce) in hex; both or neither). Then the same
   * user rules as a redirect sign-in.
   */
  async idTokenGrant(call: AuthCall, body: z.infer<typeof idTokenGrantSchema>): Promise<TokenResponse> {
    const project = call.tenant.project;
    const s = await this.auth.settingsOf(project);
    if (!body.id_token) throw GoTrueException.validation('id_token required');
    if (!body.provider) throw GoTrueException.validation('provider or client_id and issuer required');
    const name = body.provider as OAuthProviderName;
    if (!(OAUTH_PROVIDERS as readonly string[]).includes(name) || name === 'github') {
      throw GoTrueException.validation(`Custom OIDC provider "${body.provider}" not allowed`);
    }
    const provider = s.providers[name];
    const issuer = provider?.issuer ?? DEFAULT_ISSUERS[name]!;
    if (!provider?.enabled) throw GoTrueException.badRequest(GoTrueCode.ProviderDisabled, `Provider (issuer "${issuer}") is not enabled`);
    await this.limits.check(project.id, s, 'sign_in', call.ip);
    const bad = (why: string) => {
      this.logger.warn(`ID token for ${name} of project ${project.ref} refused: ${why}`);
      return new GoTrueException(400, 'bad_id_token', 'Bad ID token');
    };
    // Malformed tokens are refused before the provider's keys are fetched.
    try {
      decodeProtectedHeader(body.id_token);
      decodeJwt(body.id_token);
    } catch (e) {
      throw bad((e as Error).message);
    }
    const meta = (await this.client(project, name, provider)).serverMetadata();
    if (!meta.jwks_uri) throw bad('the provider publishes no JWKS');
    const multiTenant = name === 'azure' && isAzureMultiTenant(issuer);
    let claims: Record<string, unknown> & { sub: string };
    try {
      const jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { [joseCustomFetch]: this.fetch as never, timeoutDuration: 10_000 });
      const verified = await jwtVerify(body.id_token, jwks, { audience: provider.client_id!, ...(multiTenant ? {} : { issuer: meta.issuer }) });
      if (typeof verified.payload.sub !== 'string' || !verified.payload.sub) throw new Error('no sub claim');
      claims = verified.payload as typeof claims;
    } catch (e) {
      throw bad((e as Error).message);
    }
    const problem = multiTenant ? azureIssuerProblem(issuer, claims) : null;
    if (problem) throw bad(problem);
    const tokenNonce = typeof claims.nonce === 'string' && claims.nonce ? claims.nonce : null;
    if (Boolean(tokenNonce) !== Boolean(body.nonce)) throw GoTrueException.validation('Passed nonce and nonce in id_token should either both exist or not.');
    if (tokenNonce && !SecretBox.equal(createHash('sha256').update(body.nonce!).digest('hex'), tokenNonce)) throw GoTrueException.validation('Nonces mismatch');
    const flow: FlowStateRow = {
      id: randomUUID(), user_id: null, auth_method: 'id_token', provider: name, code_challenge: null,
      data: { redirect_to: this.auth.safeRedirect(s, undefined) }, expires_at: new Date(this.clock.nowMs() + FLOW_TTL_MS),
    };
    return this.users.run(project, async (t) => {
      let user;
      try {
        user = await this.signInUser(call, s, t, flow, name, providerUserOf(claims));
      } catch (e) {
        if (e instanceof CallbackError) throw new GoTrueException(422, e.errorCode, e.description);
        throw e;
      }
      return this.auth.startSession(project, s, t, user, 'oauth', call);
    });
  }

  /** `DELETE /user/identities/:id`. */
  async unlink(call: AuthCall, identityId: string): Promise<Record<string, never>> {
    const me = await this.auth.caller(call);
    this.assertManualLinking(await this.auth.settingsOf(call.tenant.project));
    if (!/^[0-9a-f-]{36}$/i.test(identityId)) throw GoTrueException.notFound(GoTrueCode.IdentityNotFound, "Identity doesn't exist");
    const outcome = await this.users.run(call.tenant.project, (t) => this.identities.unlink(t, me.id, identityId));
    if (outcome === 'not_found') throw GoTrueException.notFound(GoTrueCode.IdentityNotFound, "Identity doesn't exist");
    if (outcome === 'last') throw GoTrueException.unprocessable(GoTrueCode.SingleIdentityNotDeletable, 'User must have at least 1 identity after unlinking');
    return {};
  }

  /** GoTrue's requireManualLinkingEnabled: identity linking routes are 404 unless the project turned them on. */
  private assertManualLinking(s: AuthSettings): void {
    if (!s.manual_linking_enabled) throw GoTrueException.notFound(GoTrueCode.ManualLinkingDisabled, 'Manual linking is disabled');
  }

  /** The provider's code exchanged (openid-client checks the ID token), and who signed in. */
  private async exchange(project: TenantProject, name: OAuthProviderName, provider: StoredProvider, flow: FlowStateRow, rawQuery: string, state: string): Promise<ProviderSignIn> {
    const client = await this.client(project, name, provider);
    const verifier = this.box.open(String(flow.data.verifier), this.flowContext(project, flow.id));
    const current = new URL(`${this.callbackUrl(project)}?${rawQuery}`);
    let grant: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      grant = await oidc.authorizationCodeGrant(client, current, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        ...(name === 'github' ? {} : { expectedNonce: String(flow.data.nonce), idTokenExpected: true }),
      });
    } catch (e) {
      this.logger.warn(`OAuth code exchange with ${name} for project ${project.ref} failed: ${(e as Error).message}`);
      throw new CallbackError('server_error', GoTrueCode.BadOAuthCallback, 'Unable to exchange external code');
    }
    const tokens: ProviderTokens = { provider_token: grant.access_token };
    if (grant.refresh_token) tokens.provider_refresh_token = grant.refresh_token;
    if (name === 'github') return { user: await this.githubUser(githubEndpoints(provider.issuer).api, grant.access_token), tokens };
    const idToken = grant.claims();
    if (!idToken) throw new CallbackError('server_error', GoTrueCode.BadOAuthCallback, 'The provider sent no ID token');
    const issuer = provider.issuer ?? DEFAULT_ISSUERS[name]!;
    if (name === 'azure' && isAzureMultiTenant(issuer)) {
      // Any tenant may sign in through `common`: the token's issuer must be its own tenant's (GoTrue's check).
      const problem = azureIssuerProblem(issuer, idToken);
      if (problem) {
        this.logger.warn(`Azure ID token refused for project ${project.ref}: ${problem}`);
        throw new CallbackError('server_error', GoTrueCode.BadOAuthCallback, 'Unable to exchange external code');
      }
    }
    let claims: Record<string, unknown> & { sub: string } = { ...idToken };
    if (typeof idToken.email !== 'string') {
      // Providers that keep profile claims out of the ID token serve them at userinfo (for the same subject).
      try {
        claims = { ...(await oidc.fetchUserInfo(client, grant.access_token, idToken.sub)), ...idToken };
      } catch (e) {
        this.logger.warn(`userinfo of ${name} for project ${project.ref} failed: ${(e as Error).message}`);
      }
    }
    return { user: providerUserOf(claims), tokens };
  }

  /** GitHub has no ID token: the user and their primary verified email come from its API. */
  private async githubUser(api: string, accessToken: string): Promise<ProviderUser> {
    const get = async (path: string) => {
      const res = await this.fetch(`${api}${path}`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json' } });
      if (res.status !== 200) throw new CallbackError('server_error', GoTrueCode.BadOAuthCallback, 'Error getting user profile from external provider');
      return res.json() as Promise<unknown>;
    };
    const user = (await get('/user')) as { id?: number; login?: string; name?: string; avatar_url?: string };
    if (typeof user.id !== 'number') throw new CallbackError('server_error', GoTrueCode.BadOAuthCallback, 'Error getting user profile from external provider');
    const emails = ((await get('/user/emails')) as Array<{ email: string; primary: boolean; verified: boolean }>) ?? [];
    const primary = emails.find((e) => e.primary) ?? emails[0];
    const sub = String(user.id);
    return {
      subject: sub,
      email: primary?.email ?? null,
      emailVerified: primary?.verified === true,
      data: JSON.parse(JSON.stringify({
        iss: api, sub, provider_id: sub, email: primary?.email, email_verified: primary?.verified === true, phone_verified: false,
        name: user.name, full_name: user.name, user_name: user.login, preferred_username: user.login, avatar_url: user.avatar_url,
      })) as Record<string, unknown>,
    };
  }

  /**
   * The user this provider identity signs in: its owner; or, linking, the signed-in user (an anonymous one becomes
   * permanent, same id); or the user with the same email when the provider verified it and the project allows it;
   * or a new user.
   */
  private async signInUser(call: AuthCall, s: AuthSettings, t: AuthScope, flow: FlowStateRow, provider: string, who: ProviderUser) {
    const project = call.tenant.project;
    const email = who.email ? safeEmail(who.email) : null;
    // GoTrue confirms a provider user's email when the provider verified it or the project autoconfirms; otherwise
    // the user exists unconfirmed, gets a confirmation mail, and this sign-in ends with provider_email_needs_verification.
    const confirms = who.emailVerified || !s.email_confirm_required;
    const { userId, ended, confirmation } = await this.identities.transaction(t, async (tx) => {
      const none = { ended: [] as string[], confirmation: null as IssuedCode | null };
      const identity = await this.identities.find(t, tx, provider, who.subject);
      if (flow.user_id) {
        if (identity && identity.user_id !== flow.user_id) {
          throw GoTrueException.unprocessable(GoTrueCode.IdentityAlreadyExists, 'Identity is already linked to another user');
        }
        const me = await this.users.findUser(t, { id: flow.user_id }, tx, true);
        if (!me) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User not found');
        if (identity) await this.identities.updateData(t, tx, identity.id, who.data);
        else await this.identities.add(t, tx, me.id, provider, who.subject, who.data);
        if (me.is_anonymous) {
          // The anonymous user becomes permanent, keeping its id (so its rows stay its own); a verified provider
          // email becomes its email when nobody has it.
          const fields: Record<string, unknown> = { is_anonymous: false };
          if (!me.email && email && who.emailVerified && !(await this.users.findUser(t, { email }, tx))) Object.assign(fields, { email, email_confirmed_at: new Date() });
          await this.users.updateUser(t, me.id, fields, tx);
        }
        return { userId: me.id, ...none };
      }
      if (identity) {
        await this.identities.updateData(t, tx, identity.id, who.data);
        const owner = await this.users.findUser(t, { id: identity.user_id }, tx, true);
        if (owner?.email && !owner.email_confirmed_at) {
          // Still unconfirmed (an earlier sign-in with an unverified email): confirmed now, or mailed again.
          if (!confirms) return { userId: owner.id, ended: [], confirmation: await this.confirmationMail(call, s, t, tx, flow, owner.id, owner.email) };
          await this.users.updateUser(t, owner.id, { email_confirmed_at: new Date(), encrypted_password: null }, tx);
          return { userId: owner.id, ended: await this.users.deleteSessions(t, owner.id, 'global', null, tx), confirmation: null };
        }
        return { userId: identity.user_id, ...none };
      }
      const existing = email ? await this.users.findUser(t, { email }, tx, true) : null;
      if (existing) {
        if (!who.emailVerified || !s.link_verified_provider_emails) {
          throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
        }
        await this.identities.add(t, tx, existing.id, provider, who.subject, who.data);
        let ended: string[] = [];
        if (!existing.email_confirmed_at) {
          // The provider proved the address; whatever was set before by someone who never proved it (a password
          // registered in the owner's name) goes, with its sessions.
          await this.users.updateUser(t, existing.id, { email_confirmed_at: new Date(), encrypted_password: null }, tx);
          ended = await this.users.deleteSessions(t, existing.id, 'global', null, tx);
        }
        return { userId: existing.id, ended, confirmation: null };
      }
      if (!s.signup_enabled) throw GoTrueException.unprocessable(GoTrueCode.SignupDisabled, 'Signups not allowed for this instance');
      const id = randomUUID();
      const created = await this.identities.createUser(t, tx, { id, email, confirmed: email !== null && confirms, metadata: who.data, provider, subject: who.subject, data: who.data });
      if (!created) throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      if (email && !confirms) return { userId: id, ended: [], confirmation: await this.confirmationMail(call, s, t, tx, flow, id, email) };
      return { userId: id, ...none };
    });
    this.tokens.forgetSessions(project.id, ended);
    if (confirmation) {
      // Committed (the user and identity stay, as in GoTrue), then mailed; the app gets GoTrue's error.
      await this.auth.sendCode(confirmation);
      throw new CallbackError('access_denied', GoTrueCode.ProviderEmailNeedsVerification, `Unverified email with ${provider}. A confirmation email has been sent to your ${provider} email`);
    }
    const user = await this.users.findUser(t, { id: userId });
    if (!user) throw GoTrueException.forbidden(GoTrueCode.UserNotFound, 'User not found');
    if (user.banned_until && user.banned_until.getTime() > this.clock.nowMs()) throw GoTrueException.badRequest(GoTrueCode.UserBanned, 'User is banned');
    return user;
  }

  /**
   * The signup confirmation for a provider user whose email the provider hasn't verified (GoTrue's
   * sendConfirmation, implicit flow: the link signs in at the flow's redirect). Limited like any signup mail.
   */
  private async confirmationMail(call: AuthCall, s: AuthSettings, t: AuthScope, tx: AuthTx, flow: FlowStateRow, userId: string, email: string): Promise<IssuedCode> {
    const project = call.tenant.project;
    await this.limits.checkEmailRequest(project.id, s, email, call.ip);
    await this.limits.spendEmailBudget(project.id, s);
    const issued = await this.auth.issueCode(tx, { tenant: call.tenant, redirectTo: String(flow.data.redirect_to), pkce: null }, s, t, { kind: 'signup', email, userId });
    await this.users.updateUser(t, userId, { confirmation_sent_at: new Date() }, tx);
    return issued;
  }

  /** The provider's client (discovery cached per project, provider and settings). */
  private client(project: TenantProject, name: OAuthProviderName, p: StoredProvider): Promise<oidc.Configuration> {
    const issuer = p.issuer ?? DEFAULT_ISSUERS[name] ?? null;
    const key = JSON.stringify([p.client_id, p.client_secret_enc, issuer]);
    const cacheKey = `${project.id}:${name}`;
    const hit = this.clients.get(cacheKey);
    if (hit && hit.key === key) return hit.config;
    const secret = this.settings.providerSecret(project.id, name, p.client_secret_enc!);
    const options: oidc.DiscoveryRequestOptions = { [oidc.customFetch]: this.fetch as unknown as oidc.CustomFetch, timeout: 10 };
    // Plain http only where private addresses are allowed too (local development and tests).
    if (this.config.outbound.allowPrivate) options.execute = [oidc.allowInsecureRequests];
    const config =
      name === 'github'
        ? Promise.resolve(this.withOptions(new oidc.Configuration(githubServer(p.issuer), p.client_id!, secret, oidc.ClientSecretPost(secret)), options))
        : oidc.discovery(new URL(issuer!), p.client_id!, undefined, this.clientAuth(project, name, p, secret), options);
    config.catch(() => this.clients.delete(cacheKey)); // a failed discovery is retried next time
    if (this.clients.size > 10_000) this.clients.clear();
    this.clients.set(cacheKey, { key, config });
    return config.catch((e: Error) => {
      this.logger.warn(`OpenID discovery for ${name} of project ${project.ref} failed: ${e.message}`);
      throw GoTrueException.badRequest(GoTrueCode.ProviderDisabled, `Unsupported provider: ${name} could not be reached`);
    });
  }

  /**
   * How the client authenticates at the token endpoint: its secret in the body; for Apple with a team and key id,
   * a client secret JWT signed with that key, made on first use and renewed shortly before it expires.
   */
  private clientAuth(project: TenantProject, name: OAuthProviderName, p: StoredProvider, secret: string): oidc.ClientAuth {
    if (name !== 'apple' || !p.team_id || !p.key_id) return oidc.ClientSecretPost(secret);
    const key = { clientId: p.client_id!, teamId: p.team_id, keyId: p.key_id, privateKeyPem: secret };
    const cacheKey = `${project.id}:${p.client_id}:${p.team_id}:${p.key_id}:${p.client_secret_enc}`;
    return (_as, client, body) => {
      body.set('client_id', client.client_id);
      body.set('client_secret', this.appleSecrets.get(cacheKey, key));
    };
  }

  private withOptions(c: oidc.Configuration, options: oidc.DiscoveryRequestOptions): oidc.Configuration {
    c[oidc.customFetch] = options[oidc.customFetch]!;
    if (options.execute) for (const f of options.execute) f(c);
    return c;
  }

  private callbackUrl(project: TenantProject): string {
    return `${this.tokens.issuer(project.ref)}/callback`;
  }

  private stateMac(project: TenantProject, flowId: string): string {
    return this.box.mac(flowId, `oauth-state:${project.id}`);
  }

  private flowContext(project: TenantProject, flowId: string): string {
    return `oauth-flow:${project.id}:${flowId}`;
  }
}

function githubServer(base: string | null): oidc.ServerMetadata {
  const { issuer, authorization_endpoint, token_endpoint } = githubEndpoints(base);
  return { issuer, authorization_endpoint, token_endpoint };
}

/** Who an ID token (with any userinfo claims) says signed in, as GoTrue records the identity. */
function providerUserOf(claims: Record<string, unknown> & { sub: string }): ProviderUser {
  const email = typeof claims.email === 'string' ? claims.email : null;
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const pick = (k: string) => (typeof claims[k] === 'string' ? (claims[k] as string) : undefined);
  const data: Record<string, unknown> = {
    iss: claims.iss, sub: claims.sub, provider_id: claims.sub, email: email ?? undefined, email_verified: verified, phone_verified: false,
    name: pick('name'), full_name: pick('name'), picture: pick('picture'), avatar_url: pick('picture'), preferred_username: pick('preferred_username'),
  };
  return { subject: claims.sub, email, emailVerified: verified, data: JSON.parse(JSON.stringify(data)) as Record<string, unknown> };
}

/** `url` with `params` in its query or fragment (GoTrue: implicit flows get the fragment, PKCE the query). */
function withParams(url: string, where: 'query' | 'fragment', params: Record<string, string>): string {
  const u = new URL(url);
  if (where === 'query') for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  else u.hash = new URLSearchParams(params).toString();
  return u.toString();
}

function safeEmail(raw: string): string | null {
  try {
    return normalizeEmail(raw);
  } catch {
    return null;
  }
}
