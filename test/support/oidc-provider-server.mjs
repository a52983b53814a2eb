// A real OpenID Provider (the certified `oidc-provider` package) on 127.0.0.1 for the OAuth e2e tests, run as a
// child process (it is ESM with ESM dependencies; jest runs CommonJS). Started with a JSON config in argv[2]:
// {clients: [{client_id, client_secret, redirect_uris}]}. Prints `READY <port>` when listening.
// Who signs in is chosen by the test before it follows the redirect: POST /test/next {sub, email, email_verified}
// (or {error, error_description} to make the provider refuse). The interaction then finishes by itself.
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const { clients } = JSON.parse(process.argv[2]);
let next = null;
const accounts = new Map();

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({ ...c, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' })),
  // A refresh token with every code exchange (as Google does with access_type=offline), so tests see the
  // provider_refresh_token GoTrue hands to the app.
  issueRefreshToken: () => true,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
  scopes: ['openid', 'email', 'profile'],
  // claimsParameter: a native app (the signInWithIdToken tests) asks for the email in the ID token itself.
  features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (_ctx, id) => {
    const a = accounts.get(id);
    return a ? { accountId: id, claims: () => ({ sub: id, ...a }) } : undefined;
  },
  cookies: { keys: ['test-cookie-key'] },
});
provider.proxy = false;
const callback = provider.callback();

server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/test/next') {
      let body = '';
      for await (const chunk of req) body += chunk;
      next = JSON.parse(body);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const who = next;
      next = null;
      if (!who) {
        res.writeHead(500).end('no login prepared');
        return;
      }
      if (who.error) {
        await provider.interactionFinished(req, res, { error: who.error, error_description: who.error_description }, { mergeWithLastSubmission: false });
        return;
      }
      const { sub, ...claims } = who;
      accounts.set(sub, claims);
      const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
      grant.addOIDCScope(String(details.params.scope));
      // Claims asked for by the claims parameter are consented too (else the provider asks again).
      if (details.params.claims) grant.addOIDCClaims(Object.keys(JSON.parse(String(details.params.claims)).id_token ?? {}));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
      return;
    }
    callback(req, res);
  } catch (e) {
    res.writeHead(500).end(String(e && e.message));
  }
});

process.stdout.write(`READY ${port}\n`);
