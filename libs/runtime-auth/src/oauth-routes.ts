import type { z } from 'zod';
import { EdgeContext, EdgeRoute, sendJson } from '@plinth/gateway';
import { gotrueQuery, parseOrThrow } from './auth.dto';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import type { AuthCall, AuthService } from './auth.service';
import { authorizeQuerySchema, callbackQuerySchema, OAuthService } from './oauth.service';

type CallOf = (c: EdgeContext) => AuthCall;

/** A redirect as GoTrue sends it; `skip_http_redirect=true` asks for `{url}` instead (supabase-js linkIdentity). */
function redirect(c: EdgeContext, url: string, asJson: boolean): void {
  if (asJson) return sendJson(c.res, 200, { url });
  c.res.statusCode = 302;
  c.res.setHeader('location', url.replace(/[^\x21-\x7e]+/g, (s) => encodeURI(s)));
  c.res.setHeader('content-type', 'text/plain; charset=utf-8');
  c.res.end(`Found. Redirecting to ${url}`);
}

/** GoTrue's OAuth routes and identity linking, for the auth runtime's edge. */
export function oauthRoutes(oauth: OAuthService, auth: AuthService, callOf: CallOf): EdgeRoute[] {
  const authorizeQuery = (c: EdgeContext): z.infer<typeof authorizeQuerySchema> => gotrueQuery(authorizeQuerySchema, c.query);
  return [
    // Opened by the browser (no key), like the emailed /verify link; metered all the same.
    {
      methods: ['GET'], path: '/authorize', body: 'none', key: 'optional',
      handler: async (c) => {
        const q = authorizeQuery(c);
        redirect(c, await oauth.authorize(callOf(c), q), q.skip_http_redirect === 'true');
      },
    },
    {
      methods: ['GET'], path: '/callback', body: 'none', key: 'optional',
      handler: async (c) => redirect(c, await oauth.callback(callOf(c), c.query, gotrueQuery(callbackQuerySchema, c.query)), false),
    },
    // response_mode=form_post (Apple, when it is asked for name or email): the same parameters as a form body.
    {
      methods: ['POST'], path: '/callback', body: 'json', key: 'optional',
      handler: async (c) => {
        const fields = typeof c.body === 'object' && c.body !== null && !Array.isArray(c.body) ? (c.body as Record<string, unknown>) : {};
        const params = new URLSearchParams(Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === 'string'));
        redirect(c, await oauth.callback(callOf(c), params.toString(), parseOrThrow(callbackQuerySchema, Object.fromEntries(params))), false);
      },
    },
    {
      methods: ['GET'], path: '/user/identities/authorize', body: 'none',
      handler: async (c) => {
        const call = callOf(c);
        const me = await auth.caller(call);
        const q = authorizeQuery(c);
        redirect(c, await oauth.authorize(call, q, me), q.skip_http_redirect === 'true');
      },
    },
    {
      methods: ['DELETE'], path: '/user/identities/:id', body: 'none',
      handler: async (c) => sendJson(c.res, 200, await oauth.unlink(callOf(c), c.params.id)),
    },
    // Plinth has no SAML: GoTrue with SAML off answers its SSO routes this way, and supabase-js shows the message.
    ...(['POST /sso', 'GET /sso/saml/metadata'] as const).map((r): EdgeRoute => {
      const [method, path] = r.split(' ') as ['GET' | 'POST', string];
      return {
        methods: [method], path, body: method === 'POST' ? 'json' : 'none', key: path === '/sso' ? 'required' : 'optional',
        handler: () => {
          throw GoTrueException.notFound(GoTrueCode.SamlProviderDisabled, 'SAML 2.0 is disabled');
        },
      };
    }),
  ];
}
