import { createClient, SupabaseClient } from '@supabase/supabase-js';
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import ws from 'ws';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const PASSWORD = 'Sup3r-secret-pass';
const APP = 'https://app.example.com';
const RELAXED_LIMITS = {
  sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
  emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
};

/** Memory storage for supabase-js (the PKCE verifier lives there). */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem = (k: string) => this.items.get(k) ?? null;
  setItem = (k: string, v: string) => void this.items.set(k, v);
  removeItem = (k: string) => void this.items.delete(k);
}

/** Polls `probe` until it returns something (mails go out through the outbox, a moment later). */
async function waitFor<T>(probe: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Sign-in with an OpenID provider through the whole redirect flow: a real `oidc-provider` on 127.0.0.1 (a child
 * process), driven by following redirects the way a browser would (cookies for the provider kept per test).
 */
describe('auth runtime: OAuth / OIDC providers, identity linking and anonymous upgrade with supabase-js', () => {
  let t: TestApp;
  let owner: TestUser;
  let a: TestProject;
  let b: TestProject;
  let op: ChildProcess;
  let issuer: string;

  const client = (p: TestProject, opts: { pkce?: boolean; key?: string } = {}): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, opts.key ?? p.publishable, {
      auth: { persistSession: true, storage: new MemoryStorage(), autoRefreshToken: false, detectSessionInUrl: false, flowType: opts.pkce ? 'pkce' : 'implicit' },
      realtime: { transport: ws as never },
    });
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** Who the provider signs in next (or an error it answers with). */
  const nextLogin = async (who: Record<string, unknown>) => {
    const res = await fetch(`${issuer}/test/next`, { method: 'POST', body: JSON.stringify(who) });
    expect(res.status).toBe(204);
  };
  /**
   * Follows redirects from `start` until one leaves for the app (returned) or `stopAt` matches (returned before
   * it is requested); anything else that isn't a redirect is an error.
   */
  const drive = async (start: string, stopAt?: (u: URL) => boolean): Promise<URL> => {
    const cookies = new Map<string, string>();
    let url = new URL(start);
    for (let i = 0; i < 20; i++) {
      if (url.origin === APP || stopAt?.(url)) return url;
      const res = await fetch(url, { redirect: 'manual', headers: url.origin === issuer ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
      if (url.origin === issuer) {
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';');
          const at = pair.indexOf('=');
          cookies.set(pair.slice(0, at), pair.slice(at + 1));
        }
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) throw new Error(`${url.href} answered ${res.status}: ${(await res.text()).replace(/<style[\s\S]*?<\/style>/, "").replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").slice(0, 600)}`);
      url = new URL(location, url);
    }
    throw new Error('too many redirects');
  };
  const fragment = (u: URL) => new URLSearchParams(u.hash.slice(1));
  const signInUrl = async (p: TestProject, redirectTo = `${APP}/done`) => {
    const { data, error } = await client(p).auth.signInWithOAuth({ provider: 'oidc' as never, options: { redirectTo, skipBrowserRedirect: true } });
    expect(error).toBeNull();
    return data.url!;
  };
  const isCallback = (p: TestProject) => (u: URL) => u.pathname === `/p/${p.ref}/auth/v1/callback`;

  beforeAll(async () => {
    const port = await freePort();
    // With the job processors: confirmation mails (unverified provider emails) go out through the outbox.
    t = await bootTestApp({ LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', PORT: String(port), JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
    owner = await signup(t, 'oauth-owner');
    await upgradeOrg(t, owner);
    a = await createProject(t, owner, 'oauth-a');
    b = await createProject(t, owner, 'oauth-b');
    const clients = [a, b].map((p) => ({ client_id: `plinth-${p.ref}`, client_secret: `secret-${p.ref}-0123456789`, redirect_uris: [`${t.config.http.publicUrl}/p/${p.ref}/auth/v1/callback`] }));
    op = spawn(process.execPath, [join(__dirname, '../support/oidc-provider-server.mjs'), JSON.stringify({ clients })], { stdio: ['ignore', 'pipe', 'inherit'] });
    issuer = await new Promise<string>((resolve, reject) => {
      op.once('exit', (code) => reject(new Error(`oidc provider exited ${code}`)));
      op.stdout!.on('data', (d: Buffer) => {
        const m = /READY (\d+)/.exec(d.toString());
        if (m) resolve(`http://127.0.0.1:${m[1]}`);
      });
    });
    for (const [i, p] of [a, b].entries()) {
      await patchConfig(p, {
        rate_limits: RELAXED_LIMITS, site_url: APP, redirect_urls: [`${APP}/**`], anonymous_sign_ins: true, email_confirm_required: false, manual_linking_enabled: true,
        providers: { oidc: { enabled: true, client_id: clients[i].client_id, client_secret: clients[i].client_secret, issuer } },
      });
    }
  });
  afterAll(async () => {
    op?.kill();
    await t?.close();
  });

  it('keeps the client secret write-only and sealed; /settings lists the provider as enabled', async () => {
    const view = await t.http().get(`/v1/projects/${a.ref}/auth/config`).set(owner.auth);
    expect(view.body.providers.oidc).toEqual({ enabled: true, client_id: `plinth-${a.ref}`, scopes: '', issuer, client_secret_set: true });
    expect(JSON.stringify(view.body)).not.toContain(`secret-${a.ref}`);
    const stored = await t.sql.query(`SELECT settings::text AS s FROM control.auth_configs WHERE project_id = $1`, [a.id]);
    expect(stored.rows[0].s).not.toContain(`secret-${a.ref}`);
    const settings = await t.http().get(`/p/${a.ref}/auth/v1/settings`).set('apikey', a.publishable);
    expect(settings.body.external).toMatchObject({ email: true, oidc: true });
    const bad = await t.http().patch(`/v1/projects/${a.ref}/auth/config`).set(owner.auth).send({ providers: { google: { enabled: true, client_id: 'x' } } });
    expect(bad.status).toBe(400);
  });

  it('new user: the implicit flow ends at the app with a session in the fragment; the user has the oidc identity', async () => {
    const email = uniqueEmail('alice');
    await nextLogin({ sub: 'alice-1', email, email_verified: true, name: 'Alice' });
    const start = await signInUrl(a);
    expect(new URL(start).pathname).toBe(`/p/${a.ref}/auth/v1/authorize`);
    const end = await drive(start);
    expect(`${end.origin}${end.pathname}`).toBe(`${APP}/done`);
    const f = fragment(end);
    expect(f.get('token_type')).toBe('bearer');
    const sb = client(a);
    expect((await sb.auth.setSession({ access_token: f.get('access_token')!, refresh_token: f.get('refresh_token')! })).error).toBeNull();
    const { data } = await sb.auth.getUser();
    expect(data.user).toMatchObject({ email, app_metadata: { provider: 'oidc', providers: ['oidc'] }, user_metadata: { name: 'Alice', email } });
    expect(data.user!.email_confirmed_at).toEqual(expect.any(String));
    expect(data.user!.identities).toEqual([expect.objectContaining({ provider: 'oidc', id: 'alice-1', identity_data: expect.objectContaining({ sub: 'alice-1', email, iss: issuer }) })]);
    expect(decodeJwt(f.get('access_token')!).amr).toEqual([{ method: 'oauth', timestamp: expect.any(Number) }]);
  });

  it('provider tokens: the implicit redirect carries provider_token and provider_refresh_token, usable at the provider', async () => {
    const email = uniqueEmail('ptok');
    await nextLogin({ sub: 'ptok-1', email, email_verified: true });
    const f = fragment(await drive(await signInUrl(a)));
    const providerToken = f.get('provider_token')!;
    expect(providerToken).toEqual(expect.any(String));
    expect(providerToken).not.toBe(f.get('access_token'));
    // It is the provider's own access token: its userinfo answers with the subject that signed in.
    const info = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${providerToken}` } });
    expect(info.status).toBe(200);
    expect(await info.json()).toMatchObject({ sub: 'ptok-1' });
    // And the refresh token is the provider's too: it refreshes there.
    const refreshed = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: f.get('provider_refresh_token')!, client_id: `plinth-${a.ref}`, client_secret: `secret-${a.ref}-0123456789` }),
    });
    expect(refreshed.status).toBe(200);
    // supabase-js reads them from the URL into the session, as from GoTrue.
    const stored = await t.sql.query(`SELECT count(*)::int AS n FROM "t_${a.ref}"._auth_flow_states WHERE data::text LIKE '%' || $1 || '%'`, [providerToken]);
    expect(stored.rows[0].n).toBe(0);
  });

  it('returning user: the same provider subject signs in the same user, with no new identity', async () => {
    const email = uniqueEmail('ret');
    await nextLogin({ sub: 'ret-1', email, email_verified: true });
    const first = fragment(await drive(await signInUrl(a))).get('access_token')!;
    await nextLogin({ sub: 'ret-1', email, email_verified: true, name: 'Renamed' });
    const second = fragment(await drive(await signInUrl(a))).get('access_token')!;
    expect(decodeJwt(second).sub).toBe(decodeJwt(first).sub);
    const me = await t.http().get(`/p/${a.ref}/auth/v1/user`).set('apikey', a.publishable).set('authorization', `Bearer ${second}`);
    expect(me.body.identities).toHaveLength(1);
    expect(me.body.identities[0].identity_data.name).toBe('Renamed');
  });

  it('PKCE: the app gets ?code= and exchangeCodeForSession signs in', async () => {
    const email = uniqueEmail('pkce-oauth');
    await nextLogin({ sub: 'pkce-1', email, email_verified: true });
    const sb = client(a, { pkce: true });
    const { data } = await sb.auth.signInWithOAuth({ provider: 'oidc' as never, options: { redirectTo: `${APP}/cb`, skipBrowserRedirect: true } });
    expect(new URL(data.url!).searchParams.get('code_challenge_method')).toBe('s256');
    const end = await drive(data.url!);
    expect(end.hash).toBe('');
    const code = end.searchParams.get('code')!;
    const exchanged = await sb.auth.exchangeCodeForSession(code);
    expect(exchanged.error).toBeNull();
    expect(exchanged.data.user!.email).toBe(email);
    expect(decodeJwt(exchanged.data.session!.access_token).amr).toEqual([{ method: 'oauth', timestamp: expect.any(Number) }]);
    // The provider's tokens come with the exchange (GoTrue keeps them in the flow state until then), sealed
    // while they wait, and only once.
    const { provider_token, provider_refresh_token } = exchanged.data.session!;
    expect(provider_token).toEqual(expect.any(String));
    expect(provider_refresh_token).toEqual(expect.any(String));
    const info = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${provider_token}` } });
    expect(await info.json()).toMatchObject({ sub: 'pkce-1' });
    expect((await sb.auth.exchangeCodeForSession(code)).error).toBeTruthy();
  });

  it('PKCE: provider tokens wait for the exchange sealed, never in the clear, and go with it', async () => {
    await nextLogin({ sub: 'pkce-sealed', email: uniqueEmail('pkce-sealed'), email_verified: true });
    const sb = client(a, { pkce: true });
    const { data } = await sb.auth.signInWithOAuth({ provider: 'oidc' as never, options: { redirectTo: `${APP}/cb`, skipBrowserRedirect: true } });
    const code = (await drive(data.url!)).searchParams.get('code')!;
    const waiting = await t.sql.query(`SELECT data FROM "t_${a.ref}"._auth_flow_states WHERE auth_method = 'oauth' AND user_id IS NOT NULL`);
    const sealed = waiting.rows.map((r) => r.data as Record<string, string>).filter((d) => d.provider_token);
    expect(sealed.length).toBeGreaterThan(0);
    const exchanged = await sb.auth.exchangeCodeForSession(code);
    const token = exchanged.data.session!.provider_token!;
    expect(JSON.stringify(sealed)).not.toContain(token);
    const left = await t.sql.query(`SELECT data::text AS d FROM "t_${a.ref}"._auth_flow_states`);
    expect(left.rows.filter((r) => (r.d as string).includes('provider_token')).length).toBe(sealed.length - 1);
  });

  it('email collision: a verified provider email links to the password user; unverified, or with linking off, is refused', async () => {
    const admin = client(a, { key: a.secret });
    const email = uniqueEmail('bob');
    const bob = (await admin.auth.admin.createUser({ email, password: PASSWORD, email_confirm: true })).data.user!;
    await nextLogin({ sub: 'bob-unverified', email, email_verified: false });
    const refused = fragment(await drive(await signInUrl(a)));
    expect(refused.get('access_token')).toBeNull();
    expect(refused.get('error_code')).toBe('email_exists');

    await patchConfig(a, { link_verified_provider_emails: false });
    await nextLogin({ sub: 'bob-1', email, email_verified: true });
    expect(fragment(await drive(await signInUrl(a))).get('error_code')).toBe('email_exists');
    await patchConfig(a, { link_verified_provider_emails: true });

    await nextLogin({ sub: 'bob-1', email, email_verified: true });
    const linked = fragment(await drive(await signInUrl(a)));
    expect(decodeJwt(linked.get('access_token')!).sub).toBe(bob.id);
    const me = (await admin.auth.admin.getUserById(bob.id)).data.user!;
    expect(me.identities!.map((i) => i.provider).sort()).toEqual(['email', 'oidc']);
    expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
  });

  it('an unverified provider email (confirmations on): user created unconfirmed, a confirmation mail, provider_email_needs_verification; the link confirms', async () => {
    await patchConfig(a, { email_confirm_required: true });
    try {
      const email = uniqueEmail('unverified');
      await nextLogin({ sub: 'unverified-1', email, email_verified: false });
      const f = fragment(await drive(await signInUrl(a, `${APP}/welcome`)));
      expect(f.get('access_token')).toBeNull();
      expect(f.get('error')).toBe('access_denied');
      expect(f.get('error_code')).toBe('provider_email_needs_verification');
      expect(f.get('error_description')).toBe('Unverified email with oidc. A confirmation email has been sent to your oidc email');
      // GoTrue keeps the user (unconfirmed) with its identity.
      const admin = client(a, { key: a.secret });
      const users = (await admin.auth.admin.listUsers({ perPage: 1000 })).data.users.filter((u) => u.email === email);
      expect(users).toHaveLength(1);
      expect(users[0].email_confirmed_at ?? null).toBeNull();
      expect(users[0].identities!.map((i) => i.provider)).toEqual(['oidc']);
      // The confirmation mail (sent through the outbox) carries the link; following it confirms the address and
      // signs in at the flow's redirect.
      const mail = await waitFor(() => t.mails.find((m) => [m.to].flat().includes(email)));
      const link = /https?:\/\/[^\s"<>]+\/verify\?[^\s"<>]+/.exec(mail.text)![0].replace(/&amp;/g, '&');
      expect(new URL(link).searchParams.get('type')).toBe('signup');
      const verified = await fetch(`${t.baseUrl}${new URL(link).pathname}${new URL(link).search}`, { redirect: 'manual' });
      const landed = new URL(verified.headers.get('location')!);
      expect(`${landed.origin}${landed.pathname}`).toBe(`${APP}/welcome`);
      expect(fragment(landed).get('access_token')).toEqual(expect.any(String));
      expect((await admin.auth.admin.getUserById(users[0].id)).data.user!.email_confirmed_at).toEqual(expect.any(String));
      // Now confirmed, the same provider identity signs in, though the provider still hasn't verified the email.
      await nextLogin({ sub: 'unverified-1', email, email_verified: false });
      expect(decodeJwt(fragment(await drive(await signInUrl(a))).get('access_token')!).sub).toBe(users[0].id);
    } finally {
      await patchConfig(a, { email_confirm_required: false });
    }
  });

  it('an unverified provider email signs in again unconfirmed only after another mail; a verified one later confirms it', async () => {
    await patchConfig(a, { email_confirm_required: true });
    try {
      const email = uniqueEmail('unverified2');
      await nextLogin({ sub: 'unverified-2', email, email_verified: false });
      expect(fragment(await drive(await signInUrl(a))).get('error_code')).toBe('provider_email_needs_verification');
      const sent = () => t.mails.filter((m) => [m.to].flat().includes(email)).length;
      await waitFor(() => sent() === 1 || undefined);
      await nextLogin({ sub: 'unverified-2', email, email_verified: false });
      expect(fragment(await drive(await signInUrl(a))).get('error_code')).toBe('provider_email_needs_verification');
      await waitFor(() => sent() === 2 || undefined);
      await nextLogin({ sub: 'unverified-2', email, email_verified: true });
      const ok = fragment(await drive(await signInUrl(a)));
      expect(ok.get('error')).toBeNull();
      const me = await t.http().get(`/p/${a.ref}/auth/v1/user`).set('apikey', a.publishable).set('authorization', `Bearer ${ok.get('access_token')}`);
      expect(me.body.email_confirmed_at).toEqual(expect.any(String));
    } finally {
      await patchConfig(a, { email_confirm_required: false });
    }
  });

  it('an unverified provider email with confirmations off (autoconfirm) signs in confirmed, as GoTrue autoconfirms', async () => {
    const email = uniqueEmail('autoconfirm');
    await nextLogin({ sub: 'autoconfirm-1', email, email_verified: false });
    const f = fragment(await drive(await signInUrl(a)));
    const me = await t.http().get(`/p/${a.ref}/auth/v1/user`).set('apikey', a.publishable).set('authorization', `Bearer ${f.get('access_token')}`);
    expect(me.body).toMatchObject({ email });
    expect(me.body.email_confirmed_at).toEqual(expect.any(String));
  });

  it('state: a tampered state, a replayed callback and another project’s callback are 400 bad_oauth_state', async () => {
    await nextLogin({ sub: 'state-1', email: uniqueEmail('state'), email_verified: true });
    const cb = await drive(await signInUrl(a), isCallback(a));
    const state = cb.searchParams.get('state')!;
    const tampered = new URL(cb);
    tampered.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('0') ? '1' : '0'}`);
    const bad = await fetch(tampered, { redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error_code: 'bad_oauth_state' });
    const inB = new URL(cb.href.replace(`/p/${a.ref}/`, `/p/${b.ref}/`));
    expect((await fetch(inB, { redirect: 'manual' })).status).toBe(400);
    const ok = await fetch(cb, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(fragment(new URL(ok.headers.get('location')!)).get('access_token')).toEqual(expect.any(String));
    const replay = await fetch(cb, { redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error_code: 'bad_oauth_state' });
  });

  it('the same provider subject is a different user in another project: identities never cross projects', async () => {
    const email = uniqueEmail('twice');
    await nextLogin({ sub: 'twice-1', email, email_verified: true });
    const inA = decodeJwt(fragment(await drive(await signInUrl(a))).get('access_token')!).sub;
    await nextLogin({ sub: 'twice-1', email, email_verified: true });
    const bToken = fragment(await drive(await signInUrl(b))).get('access_token')!;
    expect(decodeJwt(bToken).sub).not.toBe(inA);
    expect(decodeJwt(bToken).iss).toBe(`${t.baseUrl}/p/${b.ref}/auth/v1`);
    // A's token is no session in B.
    const aToken = fragment(await (async () => {
      await nextLogin({ sub: 'twice-1', email, email_verified: true });
      return drive(await signInUrl(a));
    })()).get('access_token')!;
    expect((await t.http().get(`/p/${b.ref}/auth/v1/user`).set('apikey', b.publishable).set('authorization', `Bearer ${aToken}`)).status).toBe(403);
  });

  it('the callback also takes its parameters as a form POST (response_mode=form_post), once', async () => {
    await nextLogin({ sub: 'form-1', email: uniqueEmail('form'), email_verified: true });
    const cb = await drive(await signInUrl(a), isCallback(a));
    const post = () => fetch(`${cb.origin}${cb.pathname}`, { method: 'POST', redirect: 'manual', body: cb.searchParams });
    const ok = await post();
    expect(ok.status).toBe(302);
    expect(fragment(new URL(ok.headers.get('location')!)).get('access_token')).toEqual(expect.any(String));
    expect((await post()).status).toBe(400);
  });

  it('a redirect_to off the allow-list ends at the site URL', async () => {
    await nextLogin({ sub: 'evil-1', email: uniqueEmail('evil'), email_verified: true });
    const end = await drive(await signInUrl(a, 'https://evil.example.net/steal'));
    expect(end.origin).toBe(APP);
    expect(end.pathname).toBe('/');
  });

  it('a provider error comes back to the app as error/error_description, and no user is created', async () => {
    const users = async () => (await t.sql.query(`SELECT count(*)::int AS n FROM "t_${a.ref}"._auth_users`)).rows[0].n as number;
    const before = await users();
    await nextLogin({ error: 'access_denied', error_description: 'User cancelled' });
    const f = fragment(await drive(await signInUrl(a)));
    expect(await users()).toBe(before);
    expect(f.get('error')).toBe('access_denied');
    expect(f.get('error_description')).toBe('User cancelled');
    expect(f.get('access_token')).toBeNull();
  });

  it('a disabled or unknown provider is 400 provider_disabled', async () => {
    for (const provider of ['google', 'nope']) {
      const res = await fetch(`${t.baseUrl}/p/${a.ref}/auth/v1/authorize?provider=${provider}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error_code: 'provider_disabled' });
    }
  });

  it('linkIdentity adds the provider to a signed-in password user; unlinkIdentity removes it but never the last identity', async () => {
    const email = uniqueEmail('dave');
    const sb = client(a);
    expect((await sb.auth.signUp({ email, password: PASSWORD })).error).toBeNull();
    const { data, error } = await sb.auth.linkIdentity({ provider: 'oidc' as never, options: { redirectTo: `${APP}/linked`, skipBrowserRedirect: true } });
    expect(error).toBeNull();
    await nextLogin({ sub: 'dave-gh', email: uniqueEmail('dave-other'), email_verified: true });
    const end = await drive(data.url!);
    expect(fragment(end).get('type')).toBe('link_identity');
    const identities = (await sb.auth.getUserIdentities()).data!.identities;
    expect(identities.map((i) => i.provider).sort()).toEqual(['email', 'oidc']);
    const oidcIdentity = identities.find((i) => i.provider === 'oidc')!;

    // The identity now belongs to dave: another user can't link it.
    const eve = client(a);
    await eve.auth.signUp({ email: uniqueEmail('eve'), password: PASSWORD });
    await nextLogin({ sub: 'dave-gh', email: uniqueEmail('x'), email_verified: true });
    const stolen = fragment(await drive((await eve.auth.linkIdentity({ provider: 'oidc' as never, options: { redirectTo: `${APP}/x`, skipBrowserRedirect: true } })).data.url!));
    expect(stolen.get('error_code')).toBe('identity_already_exists');
    expect((await eve.auth.unlinkIdentity(oidcIdentity)).error).toMatchObject({ status: 404 });

    expect((await sb.auth.unlinkIdentity(oidcIdentity)).error).toBeNull();
    const left = (await sb.auth.getUserIdentities()).data!.identities;
    expect(left.map((i) => i.provider)).toEqual(['email']);
    expect((await sb.auth.unlinkIdentity(left[0])).error).toMatchObject({ status: 422, code: 'single_identity_not_deletable' });
  });

  it('an anonymous user becomes permanent by linking a provider, keeping its id', async () => {
    const sb = client(a);
    const anon = await sb.auth.signInAnonymously();
    const id = anon.data.user!.id;
    const email = uniqueEmail('anon-link');
    await nextLogin({ sub: 'anon-1', email, email_verified: true });
    const { data } = await sb.auth.linkIdentity({ provider: 'oidc' as never, options: { redirectTo: `${APP}/up`, skipBrowserRedirect: true } });
    expect(fragment(await drive(data.url!)).get('error')).toBeNull();
    const me = (await client(a, { key: a.secret }).auth.admin.getUserById(id)).data.user!;
    expect(me).toMatchObject({ id, is_anonymous: false, email });
    // Signing in with the provider now reaches the same user.
    await nextLogin({ sub: 'anon-1', email, email_verified: true });
    expect(decodeJwt(fragment(await drive(await signInUrl(a))).get('access_token')!).sub).toBe(id);
  });

  it('an anonymous user becomes permanent with updateUser({email, password}), keeping its id', async () => {
    const sb = client(a);
    const id = (await sb.auth.signInAnonymously()).data.user!.id;
    const email = uniqueEmail('anon-pw');
    const up = await sb.auth.updateUser({ email, password: PASSWORD });
    expect(up.error).toBeNull();
    expect(up.data.user).toMatchObject({ id, email, is_anonymous: false });
    const again = await client(a).auth.signInWithPassword({ email, password: PASSWORD });
    expect(again.data.user!.id).toBe(id);
  });

  it('with manual linking off (GoTrue\'s default) linkIdentity and unlinkIdentity are 404 manual_linking_disabled', async () => {
    const sb = client(a);
    expect((await sb.auth.signUp({ email: uniqueEmail('nolink'), password: PASSWORD })).error).toBeNull();
    const identity = (await sb.auth.getUserIdentities()).data!.identities[0];
    await patchConfig(a, { manual_linking_enabled: false });
    try {
      const link = await sb.auth.linkIdentity({ provider: 'oidc' as never, options: { redirectTo: `${APP}/x`, skipBrowserRedirect: true } });
      expect(link.error).toMatchObject({ status: 404, code: 'manual_linking_disabled', message: 'Manual linking is disabled' });
      expect((await sb.auth.unlinkIdentity(identity)).error).toMatchObject({ status: 404, code: 'manual_linking_disabled' });
      // Still behind the session: without one it is the usual 401, whatever the setting.
      const anon = await t.http().get(`/p/${a.ref}/auth/v1/user/identities/authorize?provider=oidc`).set('apikey', a.publishable);
      expect(anon.status).toBe(401);
    } finally {
      await patchConfig(a, { manual_linking_enabled: true });
    }
    expect((await sb.auth.linkIdentity({ provider: 'oidc' as never, options: { redirectTo: `${APP}/x`, skipBrowserRedirect: true } })).error).toBeNull();
  });

  it('SSO (SAML) answers as GoTrue with SAML off: 404 saml_provider_disabled', async () => {
    const { error } = await client(a, { pkce: true }).auth.signInWithSSO({ domain: 'example.com', options: { redirectTo: `${APP}/sso` } });
    expect(error).toMatchObject({ status: 404, code: 'saml_provider_disabled', message: 'SAML 2.0 is disabled' });
    const keyless = await t.http().post(`/p/${a.ref}/auth/v1/sso`).send({ domain: 'example.com' });
    expect(keyless.status).toBe(401);
  });

  /**
   * An ID token for project `p`'s client straight from the provider, as a native app gets one (its own
   * authorization request with PKCE and a nonce, the code exchanged by the app itself).
   */
  const idTokenFor = async (p: TestProject, who: Record<string, unknown>, nonce?: string): Promise<string> => {
    await nextLogin(who);
    const verifier = randomBytes(32).toString('base64url');
    const auth = new URL(`${issuer}/auth`);
    const redirectUri = `${t.config.http.publicUrl}/p/${p.ref}/auth/v1/callback`;
    auth.search = new URLSearchParams({
      client_id: `plinth-${p.ref}`, response_type: 'code', scope: 'openid email profile', redirect_uri: redirectUri, state: 'native',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
      // GoTrue reads the user from the ID token alone (as Google's carry the email): ask for it there.
      claims: JSON.stringify({ id_token: { email: null, email_verified: null, name: null } }),
      ...(nonce ? { nonce: createHash('sha256').update(nonce).digest('hex') } : {}),
    }).toString();
    const cb = await drive(auth.href, isCallback(p));
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: cb.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier, client_id: `plinth-${p.ref}`, client_secret: `secret-${p.ref}-0123456789` }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { id_token: string }).id_token;
  };

  it('signInWithIdToken: an ID token from the provider, with its nonce, signs in (new, then the same user)', async () => {
    const email = uniqueEmail('idtoken');
    const token = await idTokenFor(a, { sub: 'idt-1', email, email_verified: true, name: 'Ida' }, 'raw-nonce-1');
    const sb = client(a);
    const { data, error } = await sb.auth.signInWithIdToken({ provider: 'oidc' as never, token, nonce: 'raw-nonce-1' });
    expect(error).toBeNull();
    expect(data.user).toMatchObject({ email, app_metadata: { provider: 'oidc' } });
    expect(data.user!.identities).toEqual([expect.objectContaining({ provider: 'oidc', id: 'idt-1' })]);
    expect(decodeJwt(data.session!.access_token).amr).toEqual([{ method: 'oauth', timestamp: expect.any(Number) }]);
    const again = await client(a).auth.signInWithIdToken({ provider: 'oidc' as never, token: await idTokenFor(a, { sub: 'idt-1', email, email_verified: true }) });
    expect(again.error).toBeNull();
    expect(again.data.user!.id).toBe(data.user!.id);
  });

  it('signInWithIdToken refuses a wrong or missing nonce, a tampered token, another project’s token and a disabled provider', async () => {
    const before = (await t.sql.query(`SELECT count(*)::int AS n FROM "t_${a.ref}"._auth_users`)).rows[0].n as number;
    const who = () => ({ sub: `idt-${randomUUID()}`, email: uniqueEmail('idt-bad'), email_verified: true });
    const withNonce = await idTokenFor(a, who(), 'the-nonce');
    const sb = client(a);
    expect((await sb.auth.signInWithIdToken({ provider: 'oidc' as never, token: withNonce, nonce: 'other' })).error).toMatchObject({ status: 400, message: 'Nonces mismatch' });
    expect((await sb.auth.signInWithIdToken({ provider: 'oidc' as never, token: withNonce })).error).toMatchObject({ status: 400, message: expect.stringContaining('nonce') });
    const [h, p, sig] = (await idTokenFor(a, who())).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url')}.${sig}`;
    expect((await sb.auth.signInWithIdToken({ provider: 'oidc' as never, token: forged })).error).toMatchObject({ status: 400, message: 'Bad ID token' });
    expect((await sb.auth.signInWithIdToken({ provider: 'oidc' as never, token: 'not-a-jwt' })).error).toMatchObject({ status: 400, message: 'Bad ID token' });
    // Issued to project A's client: project B (another client id at the same provider) refuses it.
    const forA = await idTokenFor(a, who());
    expect((await client(b).auth.signInWithIdToken({ provider: 'oidc' as never, token: forA })).error).toMatchObject({ status: 400, message: 'Bad ID token' });
    expect((await sb.auth.signInWithIdToken({ provider: 'google', token: forA })).error).toMatchObject({ status: 400, code: 'provider_disabled', message: expect.stringContaining('is not enabled') });
    expect((await t.sql.query(`SELECT count(*)::int AS n FROM "t_${a.ref}"._auth_users`)).rows[0].n).toBe(before);
  });

  it('GitHub (OAuth 2, no ID token): user and primary email from its API, here a local GitHub Enterprise stand-in', async () => {
    const codes = new Map<string, string>(); // code → PKCE challenge it was issued for
    const calls: string[] = [];
    const gh = (await import('node:http')).createServer(async (req, res) => {
      const url = new URL(req.url!, 'http://gh');
      calls.push(`${req.method} ${url.pathname}`);
      if (url.pathname === '/login/oauth/authorize') {
        const code = `gh-${codes.size}`;
        codes.set(code, url.searchParams.get('code_challenge')!);
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state')!);
        return void res.writeHead(302, { location: back.href }).end();
      }
      if (url.pathname === '/login/oauth/access_token') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        const challenge = codes.get(form.get('code')!);
        const { createHash } = await import('node:crypto');
        const ok = form.get('client_secret') === 'gh-secret-0123456789' && challenge === createHash('sha256').update(form.get('code_verifier')!).digest('base64url');
        res.setHeader('content-type', 'application/json');
        return void res.writeHead(ok ? 200 : 400).end(JSON.stringify(ok ? { access_token: 'gho_test', token_type: 'bearer', scope: 'read:user,user:email' } : { error: 'bad_verification_code' }));
      }
      if (req.headers.authorization !== 'Bearer gho_test') return void res.writeHead(401).end();
      res.setHeader('content-type', 'application/json');
      if (url.pathname === '/api/v3/user') return void res.end(JSON.stringify({ id: 4242, login: 'octo', name: 'Octo Cat', avatar_url: 'https://avatars.example/octo' }));
      if (url.pathname === '/api/v3/user/emails') return void res.end(JSON.stringify([{ email: 'octo@example.com', primary: true, verified: true }]));
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => gh.listen(0, '127.0.0.1', () => r()));
    const ghUrl = `http://127.0.0.1:${(gh.address() as { port: number }).port}`;
    try {
      await patchConfig(b, { providers: { github: { enabled: true, client_id: 'gh-client', client_secret: 'gh-secret-0123456789', issuer: ghUrl } } });
      const { data } = await client(b).auth.signInWithOAuth({ provider: 'github', options: { redirectTo: `${APP}/gh`, skipBrowserRedirect: true } });
      const start = new URL(data.url!);
      const f = fragment(await drive(data.url!));
      expect(f.get('error_description')).toBeNull();
      expect(f.get('provider_token')).toBe('gho_test');
      expect(f.has('provider_refresh_token')).toBe(false); // GitHub issued none
      const me = await t.http().get(`/p/${b.ref}/auth/v1/user`).set('apikey', b.publishable).set('authorization', `Bearer ${f.get('access_token')}`);
      expect(me.body).toMatchObject({ email: 'octo@example.com', app_metadata: { provider: 'github' } });
      expect(me.body.identities).toEqual([expect.objectContaining({ provider: 'github', id: '4242', identity_data: expect.objectContaining({ user_name: 'octo', email_verified: true }) })]);
      expect(calls).toEqual(['GET /login/oauth/authorize', 'POST /login/oauth/access_token', 'GET /api/v3/user', 'GET /api/v3/user/emails']);
      expect(start.searchParams.get('provider')).toBe('github');
    } finally {
      gh.close();
    }
  });

  it('GET /authorize (keyless, it stores a flow) is limited per IP like sign-ins: 429 with Retry-After', async () => {
    // A project of its own: the other tests' sign-ins count in the same per-IP window.
    const c = await createProject(t, owner, 'oauth-limits');
    await patchConfig(c, {
      site_url: APP, redirect_urls: [`${APP}/**`], rate_limits: { sign_in_per_ip: 2 },
      providers: { oidc: { enabled: true, client_id: `plinth-${c.ref}`, client_secret: 'unused-0123456789', issuer } },
    });
    const url = `${t.baseUrl}/p/${c.ref}/auth/v1/authorize?provider=oidc&redirect_to=${encodeURIComponent(`${APP}/x`)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(url, { redirect: 'manual' })).status);
    expect(statuses).toEqual([302, 302, 429]);
    const limited = await fetch(url, { redirect: 'manual' });
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await limited.json()).toMatchObject({ error_code: 'over_request_rate_limit' });
    // Per project: the others are not limited by it.
    expect((await fetch(url.replace(c.ref, b.ref), { redirect: 'manual' })).status).toBe(302);
  });

  const chromiumPath = '/usr/bin/chromium';
  // Chromium is installed on the test machine (the lead's apt step); a missing one fails here rather than skipping.
  it('in Chromium: the full redirect flow ends at the app with a session', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      // The app: a local page the project allows as a redirect target.
      const appServer = (await import('node:http')).createServer((_req, res) => res.end('<p>app</p>'));
      await new Promise<void>((r) => appServer.listen(0, '127.0.0.1', () => r()));
      const appUrl = `http://localhost:${(appServer.address() as { port: number }).port}`;
      try {
        await patchConfig(a, { redirect_urls: [`${APP}/**`, `${appUrl}/**`] });
        const page = await browser.newPage();
        const email = uniqueEmail('chromium');
        await nextLogin({ sub: 'chromium-1', email, email_verified: true });
        await page.goto(await signInUrl(a, `${appUrl}/browser`));
        await page.waitForURL(`${appUrl}/**`);
        const landed = new URL(page.url());
        expect(landed.pathname).toBe('/browser');
        const f = fragment(landed);
        const me = await t.http().get(`/p/${a.ref}/auth/v1/user`).set('apikey', a.publishable).set('authorization', `Bearer ${f.get('access_token')}`);
        expect(me.body.email).toBe(email);
      } finally {
        appServer.close();
      }
    } finally {
      await browser.close();
    }
  });
});
