import { createClient, SupabaseClient } from '@supabase/supabase-js';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { createServer } from 'node:net';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importSPKI, JWK, jwtVerify, SignJWT } from 'jose';
import ws from 'ws';
import { OAUTH_PROVIDER_FETCH } from '@plinth/runtime-auth';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const APP = 'https://app.example.com';
const TID = '9188040d-6c67-4c5b-b112-36a304b66dad';
const OTHER_TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Pending {
  nonce: string;
  challenge: string;
}

/**
 * A stand-in for a provider's real host, on 127.0.0.1: the app reaches it through its provider fetch (overridden
 * below to map the real host here), so the flow runs as in production, with the provider's real URLs, and nothing
 * leaves the machine. It serves discovery, authorize (straight back with a code), token (checking PKCE and the
 * client's authentication) and JWKS; the ID token's claims are what the test sets next.
 */
class ProviderStandIn {
  server!: http.Server;
  port = 0;
  readonly codes = new Map<string, Pending>();
  readonly clientSecrets: string[] = [];
  next: Record<string, unknown> = {};
  private keys!: { privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; jwk: JWK };

  constructor(
    readonly origin: string,
    private readonly discovery: Record<string, unknown>,
    private readonly paths: { authorize: string; token: string; jwks: string; discovery: string },
    private readonly checkClient: (form: URLSearchParams) => Promise<boolean>,
  ) {}

  async start(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    this.keys = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' } };
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** An ID token as this provider signs them, for an app that signs in with it directly (signInWithIdToken). */
  mint(claims: Record<string, unknown>, audience: string): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setAudience(audience).setIssuedAt().setExpirationTime('5m').sign(this.keys.privateKey);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url!, this.origin);
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === this.paths.discovery) return json(200, this.discovery);
    if (url.pathname === this.paths.jwks) return json(200, { keys: [this.keys.jwk] });
    if (url.pathname === this.paths.authorize) {
      const code = randomUUID();
      this.codes.set(code, { nonce: url.searchParams.get('nonce')!, challenge: url.searchParams.get('code_challenge')! });
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state')!);
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === this.paths.token && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const pending = this.codes.get(form.get('code')!);
      this.codes.delete(form.get('code')!);
      this.clientSecrets.push(form.get('client_secret') ?? '');
      if (!pending || pending.challenge !== createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url')) return json(400, { error: 'invalid_grant' });
      if (!(await this.checkClient(form))) return json(401, { error: 'invalid_client' });
      const idToken = await new SignJWT({ nonce: pending.nonce, ...this.next })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setAudience(form.get('client_id')!)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(this.keys.privateKey);
      return json(200, { access_token: `at-${randomUUID()}`, token_type: 'Bearer', expires_in: 3600, id_token: idToken });
    }
    res.writeHead(404).end();
  }
}

/**
 * Microsoft Entra ID (azure) through the multi-tenant `common` issuer, and Sign in with Apple with a client secret
 * JWT signed from the project's key: both against local stand-ins of login.microsoftonline.com and appleid.apple.com.
 */
describe('auth runtime: Azure multi-tenant issuer check and Apple’s signed client secret', () => {
  let t: TestApp;
  let owner: TestUser;
  let p: TestProject;
  let azure: ProviderStandIn;
  let apple: ProviderStandIn;
  const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const applePem = appleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const appleSpki = appleKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const standIns = () => [azure, apple];
  /** The real host's URL, at its stand-in. */
  const local = (u: URL): URL | null => {
    const s = standIns().find((x) => new URL(x.origin).host === u.host);
    if (!s) return null;
    const mapped = new URL(u.href);
    mapped.protocol = 'http:';
    mapped.host = `127.0.0.1:${s.port}`;
    return mapped;
  };
  const providerFetch = async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const mapped = local(new URL(String(url)));
    if (!mapped) throw new Error(`the test's provider fetch only reaches stand-ins, not ${String(url)}`);
    return fetch(mapped, { ...init, redirect: 'manual' });
  };
  const client = (): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, p.publishable, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, flowType: 'implicit' },
      realtime: { transport: ws as never },
    });
  const patchConfig = (body: Record<string, unknown>) => t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
  /** Follows the redirects of a sign-in (the provider's through its stand-in) until the app. */
  const drive = async (start: string): Promise<URLSearchParams> => {
    let url = new URL(start);
    for (let i = 0; i < 10; i++) {
      if (url.origin === APP) return new URLSearchParams(url.hash.slice(1));
      const res = await fetch(local(url) ?? url, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (!location) throw new Error(`${url.href} answered ${res.status}: ${await res.text()}`);
      url = new URL(location, url);
    }
    throw new Error('too many redirects');
  };
  const signIn = async (provider: 'azure' | 'apple') => {
    const { data, error } = await client().auth.signInWithOAuth({ provider, options: { redirectTo: `${APP}/done`, skipBrowserRedirect: true } });
    expect(error).toBeNull();
    return drive(data.url!);
  };
  const users = async () => (await t.sql.query(`SELECT count(*)::int AS n FROM "t_${p.ref}"._auth_users`)).rows[0].n as number;

  beforeAll(async () => {
    azure = new ProviderStandIn(
      'https://login.microsoftonline.com',
      {
        // What Entra ID's multi-tenant discovery says: the issuer is a template, one per tenant.
        issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0',
        authorization_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
        token_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
        jwks_uri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
        response_types_supported: ['code'], subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'],
      },
      { discovery: '/common/v2.0/.well-known/openid-configuration', authorize: '/common/oauth2/v2.0/authorize', token: '/common/oauth2/v2.0/token', jwks: '/common/discovery/v2.0/keys' },
      async (form) => form.get('client_secret') === 'azure-secret-0123456789',
    );
    apple = new ProviderStandIn(
      'https://appleid.apple.com',
      {
        issuer: 'https://appleid.apple.com',
        authorization_endpoint: 'https://appleid.apple.com/auth/authorize',
        token_endpoint: 'https://appleid.apple.com/auth/token',
        jwks_uri: 'https://appleid.apple.com/auth/keys',
        response_types_supported: ['code'], subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'],
      },
      { discovery: '/.well-known/openid-configuration', authorize: '/auth/authorize', token: '/auth/token', jwks: '/auth/keys' },
      // Apple checks the client secret JWT against the key it issued for the team.
      async (form) => {
        try {
          await jwtVerify(form.get('client_secret')!, await importSPKI(appleSpki, 'ES256'), { issuer: 'TEAM123456', subject: 'com.example.web', audience: 'https://appleid.apple.com', algorithms: ['ES256'] });
          return decodeProtectedHeader(form.get('client_secret')!).kid === 'KEY1234567';
        } catch {
          return false;
        }
      },
    );
    await azure.start();
    await apple.start();
    t = await bootTestApp({ LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', PORT: String(await freePort()) }, undefined, {
      overrides: [{ provide: OAUTH_PROVIDER_FETCH, useValue: providerFetch }],
    });
    owner = await signup(t, 'providers-owner');
    await upgradeOrg(t, owner);
    p = await createProject(t, owner, 'providers');
    const res = await patchConfig({
      site_url: APP, redirect_urls: [`${APP}/**`], email_confirm_required: false,
      providers: {
        azure: { enabled: true, client_id: 'azure-client', client_secret: 'azure-secret-0123456789' },
        apple: { enabled: true, client_id: 'com.example.web', client_secret: applePem, team_id: 'TEAM123456', key_id: 'KEY1234567' },
      },
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    azure?.server.close();
    apple?.server.close();
  });

  it('Azure common: a token whose issuer is its own tenant’s (tid) signs in', async () => {
    const email = uniqueEmail('azure');
    azure.next = { iss: `https://login.microsoftonline.com/${TID}/v2.0`, tid: TID, sub: 'az-1', email, email_verified: true };
    const f = await signIn('azure');
    expect(f.get('error_description')).toBeNull();
    const me = await t.http().get(`/p/${p.ref}/auth/v1/user`).set('apikey', p.publishable).set('authorization', `Bearer ${f.get('access_token')}`);
    expect(me.body).toMatchObject({ email, app_metadata: { provider: 'azure' } });
    expect(me.body.identities[0].identity_data.iss).toBe(`https://login.microsoftonline.com/${TID}/v2.0`);
  });

  it.each([
    ['another tenant’s issuer', { iss: `https://login.microsoftonline.com/${OTHER_TID}/v2.0`, tid: TID }],
    ['no tid', { iss: `https://login.microsoftonline.com/${TID}/v2.0` }],
    ['the issuer template itself', { iss: 'https://login.microsoftonline.com/{tenantid}/v2.0', tid: TID }],
  ])('Azure common: a token with %s is refused and creates no user', async (_name, claims) => {
    const before = await users();
    azure.next = { ...claims, sub: `az-${randomUUID()}`, email: uniqueEmail('azure-bad'), email_verified: true };
    const f = await signIn('azure');
    expect(f.get('access_token')).toBeNull();
    expect(f.get('error')).toBe('server_error');
    expect(f.get('error_code')).toBe('bad_oauth_callback');
    expect(await users()).toBe(before);
  });

  it('Azure common, signInWithIdToken: the token must carry its own tenant’s issuer too (the check is Plinth’s here)', async () => {
    const email = uniqueEmail('azure-idt');
    const good = await azure.mint({ iss: `https://login.microsoftonline.com/${TID}/v2.0`, tid: TID, sub: 'az-idt-1', email, email_verified: true }, 'azure-client');
    const ok = await client().auth.signInWithIdToken({ provider: 'azure', token: good });
    expect(ok.error).toBeNull();
    expect(ok.data.user).toMatchObject({ email, app_metadata: { provider: 'azure' } });
    const before = await users();
    for (const claims of [
      { iss: `https://login.microsoftonline.com/${OTHER_TID}/v2.0`, tid: TID },
      { iss: `https://login.microsoftonline.com/${TID}/v2.0` },
      { iss: 'https://evil.example/v2.0', tid: TID },
    ]) {
      const token = await azure.mint({ ...claims, sub: `az-${randomUUID()}`, email: uniqueEmail('azure-idt-bad'), email_verified: true }, 'azure-client');
      expect((await client().auth.signInWithIdToken({ provider: 'azure', token })).error).toMatchObject({ status: 400, message: 'Bad ID token' });
    }
    const otherAudience = await azure.mint({ iss: `https://login.microsoftonline.com/${TID}/v2.0`, tid: TID, sub: 'az-idt-2' }, 'someone-elses-app');
    expect((await client().auth.signInWithIdToken({ provider: 'azure', token: otherAudience })).error).toMatchObject({ status: 400, message: 'Bad ID token' });
    expect(await users()).toBe(before);
  });

  it('Apple: the token request carries an ES256 client secret signed with the project’s key, reused while valid', async () => {
    const email = uniqueEmail('apple');
    apple.next = { iss: 'https://appleid.apple.com', sub: 'apple-1', email, email_verified: 'true' };
    const f = await signIn('apple');
    expect(f.get('error_description')).toBeNull();
    const me = await t.http().get(`/p/${p.ref}/auth/v1/user`).set('apikey', p.publishable).set('authorization', `Bearer ${f.get('access_token')}`);
    expect(me.body).toMatchObject({ email, app_metadata: { provider: 'apple' } });
    apple.next = { iss: 'https://appleid.apple.com', sub: 'apple-1', email, email_verified: 'true' };
    expect((await signIn('apple')).get('access_token')).toEqual(expect.any(String));
    const [first, second] = apple.clientSecrets.slice(-2);
    expect(second).toBe(first);
    expect(decodeProtectedHeader(first)).toMatchObject({ alg: 'ES256', kid: 'KEY1234567' });
    expect(first).not.toContain('PRIVATE KEY');
  });

  it('Apple: a key Apple didn’t issue is refused at its token endpoint (the sign-in fails, no user)', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await patchConfig({ providers: { apple: { client_secret: other } } })).status).toBe(200);
    try {
      const before = await users();
      apple.next = { iss: 'https://appleid.apple.com', sub: 'apple-2', email: uniqueEmail('apple2'), email_verified: 'true' };
      const f = await signIn('apple');
      expect(f.get('error_code')).toBe('bad_oauth_callback');
      expect(await users()).toBe(before);
    } finally {
      expect((await patchConfig({ providers: { apple: { client_secret: applePem } } })).status).toBe(200);
    }
  });

  it('Apple settings: team_id and key_id go together, are Apple’s only, and need a P-256 .p8 key (400 otherwise)', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await patchConfig({ providers: { apple: { client_secret: rsa } } })).status).toBe(400);
    expect((await patchConfig({ providers: { apple: { client_secret: 'not-a-key' } } })).status).toBe(400);
    expect((await patchConfig({ providers: { apple: { key_id: null } } })).status).toBe(400);
    expect((await patchConfig({ providers: { azure: { team_id: 'TEAM123456', key_id: 'KEY1234567' } } })).status).toBe(400);
    expect((await patchConfig({ providers: { apple: { team_id: 'bad' } } })).status).toBe(400);
    const view = await t.http().get(`/v1/projects/${p.ref}/auth/config`).set(owner.auth);
    expect(view.body.providers.apple).toEqual({ enabled: true, client_id: 'com.example.web', scopes: '', issuer: null, team_id: 'TEAM123456', key_id: 'KEY1234567', client_secret_set: true });
    expect(JSON.stringify(view.body)).not.toContain('PRIVATE KEY');
  });
});
