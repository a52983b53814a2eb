import { Injectable, OnModuleInit } from '@nestjs/common';
import { parse as parseQueryString } from 'node:querystring';
import { z } from 'zod';
import { EdgeContext, EdgeRoute, EdgeRuntime, RuntimeRegistry, sendJson } from '@plinth/gateway';
import { AuthAdminService } from './auth-admin.service';
import {
  adminUserSchema, generateLinkSchema, gotrueBody, gotrueQuery, listUsersQuerySchema, logoutQuerySchema, otpSchema, parseOrThrow,
  passwordGrantSchema, recoverSchema, refreshGrantSchema, resendSchema, signupSchema, tokenQuerySchema, updateUserSchema, verifyLinkSchema, verifySchema,
} from './auth.dto';
import { AuthCall, AuthService } from './auth.service';
import { GOTRUE_DIALECT, GoTrueException } from './gotrue.exception';
import { mfaRoutes } from './mfa-routes';
import { MfaService } from './mfa.service';
import { oauthRoutes } from './oauth-routes';
import { idTokenGrantSchema, OAuthService } from './oauth.service';
import { pkceGrantSchema, pkceOf } from './pkce';
import { InviteService } from './invite.service';
import { ReauthenticationService } from './reauthentication.service';
import { SigningKeysService } from './signing-keys.service';
import { inviteSchema } from './auth.dto';

const anyObject = z.object({}).passthrough();

function callOf(c: EdgeContext): AuthCall {
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.headers.authorization ?? '')?.[1] ?? null;
  const redirect = parseQueryString(c.query).redirect_to;
  return {
    tenant: c.tenant,
    ip: c.ip,
    userAgent: c.req.headers['user-agent'] ?? null,
    bearer: bearer && !bearer.startsWith('pl_') ? bearer : null,
    redirectTo: typeof redirect === 'string' && redirect.length <= 2000 ? redirect : undefined,
  };
}

/** {@link callOf} plus the PKCE challenge of a request that sends a link (supabase-js `flowType: 'pkce'`). */
const pkceCallOf = (c: EdgeContext): AuthCall => ({ ...callOf(c), pkce: pkceOf(c.body) });

/** The request's JSON body validated by `schema`, GoTrue style. */
const bodyOf = <T extends z.ZodType>(c: EdgeContext, schema: T): z.infer<T> => gotrueBody(schema, c.req.headers, c.body);

/**
 * GoTrue-compatible end-user auth at `/p/:ref/auth/v1`, as supabase-js `auth` calls it: each route translates the
 * request into one service call and answers 200 with its JSON (GoTrue's statuses), errors in GoTrue's dialect.
 */
@Injectable()
export class AuthEdge implements OnModuleInit {
  constructor(
    private readonly runtimes: RuntimeRegistry,
    private readonly auth: AuthService,
    private readonly admin: AuthAdminService,
    private readonly keys: SigningKeysService,
    private readonly mfa: MfaService,
    private readonly oauth: OAuthService,
    private readonly invites: InviteService,
    private readonly reauth: ReauthenticationService,
  ) {}

  onModuleInit(): void {
    this.runtimes.register(this.runtime());
  }

  runtime(): EdgeRuntime {
    const auth = this.auth;
    const admin = this.admin;
    const json = (handler: (c: EdgeContext) => Promise<unknown>) => async (c: EdgeContext) => sendJson(c.res, 200, await handler(c));
    const route = (methods: EdgeRoute['methods'], path: string, body: EdgeRoute['body'], handler: (c: EdgeContext) => Promise<unknown>): EdgeRoute => ({
      methods,
      path,
      body,
      handler: json(handler),
    });
    return {
      name: 'auth',
      dialect: GOTRUE_DIALECT,
      routes: [
        route(['GET'], '/settings', 'none', (c) => auth.publicSettings(c.tenant.project)),
        // Fetched bare (jose's createRemoteJWKSet sends no apikey), as Supabase's gateway serves it.
        { ...route(['GET'], '/.well-known/jwks.json', 'none', (c) => this.keys.jwks(c.tenant.project.id)), key: 'optional' },
        route(['POST'], '/signup', 'json', (c) => auth.signup(pkceCallOf(c), bodyOf(c, signupSchema))),
        route(['POST'], '/token', 'json', (c) => {
          const q = gotrueQuery(tokenQuerySchema, c.query);
          const body = bodyOf(c, anyObject);
          if (q.grant_type === 'password') return auth.passwordGrant(callOf(c), parseOrThrow(passwordGrantSchema, body));
          if (q.grant_type === 'refresh_token') return auth.refreshGrant(callOf(c), parseOrThrow(refreshGrantSchema, body));
          if (q.grant_type === 'pkce') return auth.pkceGrant(callOf(c), parseOrThrow(pkceGrantSchema, body));
          if (q.grant_type === 'id_token') return this.oauth.idTokenGrant(callOf(c), parseOrThrow(idTokenGrantSchema, body));
          throw GoTrueException.validation('unsupported_grant_type');
        }),
        route(['GET'], '/user', 'none', (c) => auth.getUser(callOf(c))),
        // Through reauthentication: a password change may need the nonce of GET /reauthenticate.
        route(['PUT'], '/user', 'json', (c) => this.reauth.updateUser(pkceCallOf(c), bodyOf(c, updateUserSchema))),
        route(['GET'], '/reauthenticate', 'none', (c) => this.reauth.reauthenticate(callOf(c))),
        route(['POST'], '/invite', 'json', (c) => this.invites.invite(callOf(c), bodyOf(c, inviteSchema))),
        {
          methods: ['POST'],
          path: '/logout',
          body: 'none',
          handler: async (c) => {
            await auth.logout(callOf(c), gotrueQuery(logoutQuerySchema, c.query).scope ?? 'global');
            sendJson(c.res, 204, undefined);
          },
        },
        route(['POST'], '/otp', 'json', (c) => auth.otp(pkceCallOf(c), bodyOf(c, otpSchema))),
        route(['POST'], '/recover', 'json', (c) => auth.recover(pkceCallOf(c), bodyOf(c, recoverSchema))),
        route(['POST'], '/resend', 'json', (c) => auth.resend(pkceCallOf(c), bodyOf(c, resendSchema))),
        route(['POST'], '/verify', 'json', (c) => auth.verify(callOf(c), bodyOf(c, verifySchema))),
        // The emailed link, opened in a browser without any key: 303 to the redirect URL with the session (or the
        // error) in the fragment.
        { methods: ['GET'], path: '/verify', body: 'none', key: 'optional', handler: (c) => this.verifyLink(c) },
        { methods: ['GET'], path: '/admin/users', body: 'none', handler: (c) => this.listUsers(c) },
        route(['POST'], '/admin/users', 'json', (c) => admin.create(c.tenant, bodyOf(c, adminUserSchema))),
        route(['GET'], '/admin/users/:id', 'none', (c) => admin.get(c.tenant, c.params.id)),
        route(['PUT'], '/admin/users/:id', 'json', (c) => admin.update(c.tenant, c.params.id, bodyOf(c, adminUserSchema))),
        route(['DELETE'], '/admin/users/:id', 'none', (c) => admin.delete(c.tenant, c.params.id)),
        route(['POST'], '/admin/generate_link', 'json', (c) => {
          const body = bodyOf(c, generateLinkSchema);
          const call = callOf(c);
          return admin.generateLink({ ...call, redirectTo: body.redirect_to ?? call.redirectTo }, body);
        }),
        ...mfaRoutes(this.mfa, callOf, bodyOf),
        ...oauthRoutes(this.oauth, auth, callOf),
      ],
    };
  }

  private async verifyLink(c: EdgeContext): Promise<void> {
    const q = gotrueQuery(verifyLinkSchema, c.query);
    const location = encodeUrl(await this.auth.verifyLink({ ...callOf(c), redirectTo: undefined }, q));
    c.res.statusCode = 303;
    c.res.setHeader('location', location);
    c.res.setHeader('content-type', 'text/plain; charset=utf-8');
    c.res.end(`See Other. Redirecting to ${location}`);
  }

  private async listUsers(c: EdgeContext): Promise<void> {
    const q = gotrueQuery(listUsersQuerySchema, c.query);
    const page = typeof q.page === 'number' ? q.page : 1;
    const perPage = typeof q.per_page === 'number' ? q.per_page : 50;
    const oldestFirst = /\basc$/i.test(q.sort ?? '');
    const { users, total } = await this.admin.list(c.tenant, page, perPage, oldestFirst);
    const base = `/p/${c.tenant.project.ref}/auth/v1/admin/users`;
    const last = Math.max(1, Math.ceil(total / perPage));
    const links: string[] = [];
    if (page < last) links.push(`<${base}?page=${page + 1}&per_page=${perPage}>; rel="next"`);
    links.push(`<${base}?page=${last}&per_page=${perPage}>; rel="last"`);
    c.res.setHeader('x-total-count', String(total));
    c.res.setHeader('link', links.join(', '));
    sendJson(c.res, 200, { users, aud: 'authenticated' });
  }
}

/** A URL made safe for a Location header as Express's `res.location` does: characters outside URLs percent-encoded. */
function encodeUrl(url: string): string {
  return url.replace(/[^\x21-\x7e]+|%(?![0-9A-Fa-f]{2})/g, (s) => encodeURI(s));
}
