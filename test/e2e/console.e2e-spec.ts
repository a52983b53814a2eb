import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONSOLE_SCHEMA_FILE, typesFor } from '../../apps/api/src/console-api-schema';
import { CONSOLE_CSP } from '../../apps/api/src/console-static';
import { bootTestApp, createProject, PASSWORD, signup, TestApp, uniqueEmail } from '../support/test-app';

/**
 * The console as the api serves it (a stand-in build in a temporary folder: the browser suite drives the real one),
 * the cookie-backed console session it signs in with, and the typed client's drift check.
 */
describe('console: static files at /, the cookie session, the generated API types', () => {
  let t: TestApp;
  const dir = mkdtempSync(join(tmpdir(), 'plinth-console-'));
  const INDEX = '<!doctype html><title>console</title><script type="module" src="/assets/index-abc123.js"></script>';

  beforeAll(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets/index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    t = await bootTestApp({ CONSOLE_DIR: dir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('serving', () => {
    it('GET / answers the console HTML with its CSP, no-cache, and anti-framing headers', async () => {
      const res = await t.http().get('/');
      expect(res.status).toBe(200);
      expect(res.text).toBe(INDEX);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(CONSOLE_CSP).toContain("script-src 'self'");
      expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-frame-options']).toBe('DENY');
    });

    it('client routes (a reload on /projects/abc/keys) get the same HTML', async () => {
      for (const path of ['/sign-in', '/projects/abc/keys', '/orgs/x/billing', '/invitations']) {
        const res = await t.http().get(path);
        expect([path, res.status, res.text]).toEqual([path, 200, INDEX]);
      }
    });

    it('hashed assets are cached for a year; a missing asset is a 404, not the HTML', async () => {
      const asset = await t.http().get('/assets/index-abc123.js');
      expect(asset.status).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const missing = await t.http().get('/assets/index-old999.js');
      expect(missing.status).toBe(404);
      expect(missing.text).not.toContain('<!doctype html>');
      const icon = await t.http().get('/favicon.svg');
      expect([icon.status, icon.headers['cache-control']]).toEqual([200, 'public, max-age=0']);
    });

    it('serves nothing outside its folder: encoded ../ in asset and file paths gets no file from elsewhere', async () => {
      writeFileSync(join(dir, '..', 'plinth-console-secret.txt'), 'outside');
      try {
        for (const path of [
          '/assets/..%2f..%2fplinth-console-secret.txt',
          '/assets/%2e%2e/%2e%2e/plinth-console-secret.txt',
          '/..%2fplinth-console-secret.txt',
          '/%2e%2e/plinth-console-secret.txt',
          '/assets/..%5c..%5cplinth-console-secret.txt',
        ]) {
          const res = await t.http().get(path);
          expect([path, res.text.includes('outside')]).toEqual([path, false]);
          expect([path, res.status === 200 ? res.text : 'refused']).toEqual([path, res.status === 200 ? INDEX : 'refused']);
        }
      } finally {
        rmSync(join(dir, '..', 'plinth-console-secret.txt'), { force: true });
      }
    });

    it('does not shadow the API, the tenant edge, the docs or the probes', async () => {
      expect((await t.http().get('/healthz')).body).toMatchObject({ status: 'ok' });
      expect((await t.http().get('/readyz')).status).toBe(200);
      const docs = await t.http().get('/docs.json');
      expect(docs.body.openapi).toMatch(/^3\./);
      expect((await t.http().get('/docs')).text).toContain('swagger');
      const api = await t.http().get('/v1/nothing-here');
      expect([api.status, api.body.error?.code]).toEqual([404, 'not_found']);
      expect((await t.http().get('/v1/me')).status).toBe(401);
      const edge = await t.http().get('/p/nosuchref/rest/v1/x').set('apikey', 'pl_pk_nothing');
      expect(edge.headers['content-type']).toMatch(/json/);
      expect(edge.text).not.toContain('<!doctype html>');
    });

    it('only GET and HEAD are served: a POST to a client route is the API\'s 404', async () => {
      const res = await t.http().post('/projects/abc').send({});
      expect(res.status).toBe(404);
      expect(res.headers['content-security-policy']).toBeUndefined();
    });

    it('without a build, / says how to make one (404)', async () => {
      const other = await bootTestApp({ CONSOLE_DIR: join(dir, 'missing') });
      try {
        const res = await other.http().get('/');
        expect(res.status).toBe(404);
        expect(res.text).toContain('npm run build:console');
      } finally {
        await other.close();
      }
    });
  });

  describe('cookie session (x-plinth-session: cookie)', () => {
    const cookieOf = (res: { headers: Record<string, unknown> }) => {
      const set = ([] as string[]).concat((res.headers['set-cookie'] as string[] | undefined) ?? []);
      return set.find((c) => c.startsWith('plinth_session='));
    };
    const value = (setCookie: string) => setCookie.split(';')[0].slice('plinth_session='.length);
    const refresh = (cookie?: string, header = true) => {
      const req = t.http().post('/v1/auth/session/refresh');
      if (header) req.set('x-plinth-session', 'cookie');
      if (cookie !== undefined) req.set('cookie', `plinth_session=${cookie}`);
      return req;
    };

    it('sign-in with the header puts the refresh token in an httpOnly, SameSite=Strict cookie scoped to /v1/auth/session, not in the body', async () => {
      const user = await signup(t, 'cookie');
      const res = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: user.email, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.refresh_token).toBeUndefined();
      expect(res.body.access_token).toEqual(expect.any(String));
      const set = cookieOf(res)!;
      expect(set).toMatch(/; Path=\/v1\/auth\/session/);
      expect(set).toMatch(/; HttpOnly/);
      expect(set).toMatch(/; SameSite=Strict/);
      expect(set).toMatch(/; Max-Age=\d+/);
      // Beside it, a cookie scripts may read, saying only that there is a session.
      const hint = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('plinth_signed_in='))!;
      expect(hint).toMatch(/^plinth_signed_in=1; Max-Age=\d+; Path=\/; Expires=[^;]+; SameSite=Strict$/);
      // Without the header, the API answers as before (no cookie).
      const plain = await t.http().post('/v1/auth/login').send({ email: user.email, password: PASSWORD });
      expect(plain.body.refresh_token).toMatch(/^pl_rt_/);
      expect(cookieOf(plain)).toBeUndefined();
    });

    it('sign-up with the header does the same', async () => {
      const res = await t.http().post('/v1/auth/signup').set('x-plinth-session', 'cookie').send({ email: uniqueEmail('cookie-signup'), password: PASSWORD });
      expect(res.status).toBe(201);
      expect(res.body.refresh_token).toBeUndefined();
      expect(cookieOf(res)).toBeDefined();
    });

    it('refresh rotates the cookie and answers a working access token; the spent cookie then fails and ends the session (401)', async () => {
      const user = await signup(t, 'rotate');
      const login = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: user.email, password: PASSWORD });
      const first = value(cookieOf(login)!);
      const res = await refresh(first);
      expect(res.status).toBe(200);
      expect(res.body.refresh_token).toBeUndefined();
      const second = value(cookieOf(res)!);
      expect(second).not.toBe(first);
      expect((await t.http().get('/v1/me').set('authorization', `Bearer ${res.body.access_token}`)).body.email).toBe(user.email);

      const replay = await refresh(first);
      expect(replay.status).toBe(401);
      // The replay cleared the cookie and revoked the family: the newer one is dead too.
      expect(cookieOf(replay)).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect((await refresh(second)).status).toBe(401);
    });

    it('refuses without the custom header (a cross-site form can\'t send it): 403, and the cookie stays usable', async () => {
      const user = await signup(t, 'csrf');
      const login = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: user.email, password: PASSWORD });
      const cookie = value(cookieOf(login)!);
      const forged = await refresh(cookie, false);
      expect(forged.status).toBe(403);
      expect(cookieOf(forged)).toBeUndefined();
      expect((await refresh(cookie)).status).toBe(200);
    });

    it('refuses no cookie, a made-up cookie, and another token type in the cookie (401)', async () => {
      const user = await signup(t, 'forged');
      const project = await createProject(t, user);
      expect((await refresh()).status).toBe(401);
      expect((await refresh('pl_rt_' + 'A'.repeat(43))).status).toBe(401);
      expect((await refresh(project.secret)).status).toBe(401);
      expect((await refresh(user.token)).status).toBe(401);
    });

    it('cookie logout ends the session: the access token stops working and the cookie is cleared', async () => {
      const user = await signup(t, 'logout');
      const login = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: user.email, password: PASSWORD });
      const cookie = value(cookieOf(login)!);
      const access = login.body.access_token as string;
      expect((await t.http().get('/v1/me').set('authorization', `Bearer ${access}`)).status).toBe(200);
      const out = await t.http().post('/v1/auth/session/logout').set('x-plinth-session', 'cookie').set('cookie', `plinth_session=${cookie}`);
      expect(out.status).toBe(204);
      expect(cookieOf(out)).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).find((c) => c.startsWith('plinth_signed_in='))).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect((await refresh(cookie)).status).toBe(401);
      expect((await t.http().get('/v1/me').set('authorization', `Bearer ${access}`)).status).toBe(401);
    });

    it("one user's cookie logout does not end another user's session", async () => {
      const a = await signup(t, 'a');
      const b = await signup(t, 'b');
      const la = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: a.email, password: PASSWORD });
      const lb = await t.http().post('/v1/auth/login').set('x-plinth-session', 'cookie').send({ email: b.email, password: PASSWORD });
      await t.http().post('/v1/auth/session/logout').set('x-plinth-session', 'cookie').set('cookie', `plinth_session=${value(cookieOf(la)!)}`);
      const rb = await refresh(value(cookieOf(lb)!));
      expect(rb.status).toBe(200);
      expect((await t.http().get('/v1/me').set('authorization', `Bearer ${rb.body.access_token}`)).body.email).toBe(b.email);
    });
  });

  it("the console's checked-in API types match a fresh generation from this app's /docs.json (run npm run console:api)", async () => {
    const doc = (await t.http().get('/docs.json')).body;
    expect(typesFor(doc)).toBe(readFileSync(CONSOLE_SCHEMA_FILE, 'utf8'));
  }, 60_000);
});
