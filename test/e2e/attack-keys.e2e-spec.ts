import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect, Socket } from 'node:net';
import { PlansService } from '@plinth/quotas';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, testRedisPrefix } from '../support/test-app';
import { declareTable, registerTestTokens, signUserToken } from '../support/data';

/**
 * Attacks on API keys: a key's restrictions (IP ranges, origins, browser use, expiry, revocation, project) must hold on
 * every surface that takes a key — the table catalog and rules under /v1 as on /p/:ref/rest/v1 — with the same
 * answers; a bad key must be refused before the server reads (or waits for) a body; and several end-user sessions from
 * one IP must not multiply that IP's rate limit.
 */
describe('attack: API keys on every surface', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;

  const tables = () => `/v1/projects/${p.ref}/tables`;
  const rules = (name = 'private_notes') => `/v1/projects/${p.ref}/tables/${name}/rules`;
  const rest = (table = 'private_notes') => `/p/${p.ref}/rest/v1/${table}`;
  const newTable = (name: string) => ({ name, columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }] });
  const mkKey = async (body: object): Promise<{ id: string; key: string }> => {
    const res = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ name: 'attack', ...body });
    if (res.status !== 201) throw new Error(`key create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  /** The status of each surface for a key and extra headers: catalog list, create, rules, REST read and write. */
  async function everySurface(key: string, headers: Record<string, string> = {}, name = 'never_made'): Promise<Record<string, number>> {
    const set = <R extends { set(h: Record<string, string>): R }>(r: R) => r.set({ apikey: key, ...headers });
    return {
      'GET tables': (await set(t.http().get(tables()))).status,
      'POST tables': (await set(t.http().post(tables())).send(newTable(name))).status,
      'PUT rules': (await set(t.http().put(rules())).send([{ role: 'anon', action: 'read' }])).status,
      'GET rest': (await set(t.http().get(rest()))).status,
      'POST rest': (await set(t.http().post(rest())).send({})).status,
    };
  }
  const all = (status: number) => ({ 'GET tables': status, 'POST tables': status, 'PUT rules': status, 'GET rest': status, 'POST rest': status });

  /** The table is still private (no rules), and no table was created. */
  async function nothingChanged(name = 'never_made'): Promise<void> {
    const view = await t.http().get(`${tables()}/private_notes`).set(u.auth);
    expect(view.body.rules).toEqual([]);
    expect((await t.http().get(rest()).set('apikey', p.publishable)).status).toBe(401); // anonymous: no rule, no read
    const made = await t.sql.query(`SELECT count(*)::int AS n FROM control.data_tables WHERE project_id = $1 AND name = $2`, [p.id, name]);
    expect(made.rows[0].n).toBe(0);
    const { rows } = await t.sql.query(`SELECT to_regclass($1) AS r`, [`t_${p.ref}.${name}`]);
    expect(rows[0].r).toBeNull();
  }

  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t, 'attack-keys');
    p = await createProject(t, u, 'attacked');
    other = await createProject(t, u, 'other');
    await declareTable(t, u, p, newTable('private_notes'));
    await t.http().post(rest()).set('apikey', p.secret).send({}).expect(201);
  });
  afterAll(() => t.close());

  describe('a secret key restricted to 10.0.0.0/8, used from 127.0.0.1', () => {
    let key: string;
    beforeAll(async () => {
      key = (await mkKey({ type: 'secret', allowed_ips: ['10.0.0.0/8'] })).key;
    });

    it('gets 403 on GET /v1/projects/:ref/tables', async () => {
      const res = await t.http().get(tables()).set('apikey', key);
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/IP address/);
    });

    it('gets 403 on POST /v1/projects/:ref/tables, and no table is created', async () => {
      expect((await t.http().post(tables()).set('apikey', key).send(newTable('ip_made'))).status).toBe(403);
      await nothingChanged('ip_made');
    });

    it('gets 403 on PUT /v1/projects/:ref/tables/:name/rules, and the table stays closed to anonymous reads', async () => {
      expect((await t.http().put(rules()).set('apikey', key).send([{ role: 'anon', action: 'read' }])).status).toBe(403);
      await nothingChanged();
    });

    it('gets the same 403 on GET and POST /p/:ref/rest/v1/:table as on the catalog', async () => {
      expect(await everySurface(key)).toEqual(all(403));
      await nothingChanged();
    });

    it('works from an allowed range (127.0.0.0/8) on every surface', async () => {
      const lan = (await mkKey({ type: 'secret', allowed_ips: ['127.0.0.0/8'] })).key;
      expect((await t.http().get(tables()).set('apikey', lan)).status).toBe(200);
      expect((await t.http().get(rest()).set('apikey', lan)).status).toBe(200);
    });
  });

  describe('a secret key restricted to the origin https://app.example.com (browser use allowed)', () => {
    let key: string;
    beforeAll(async () => {
      key = (await mkKey({ type: 'secret', allow_browser: true, allowed_origins: ['https://app.example.com'] })).key;
    });

    it('sent with Origin https://evil.example gets 403 on GET/POST tables, PUT rules and GET/POST /rest/v1, and changes nothing', async () => {
      expect(await everySurface(key, { origin: 'https://evil.example' })).toEqual(all(403));
      await nothingChanged();
    });

    it('sent without an Origin gets 403 on every surface (an origin list means: only from those pages)', async () => {
      expect(await everySurface(key)).toEqual(all(403));
      await nothingChanged();
    });

    it('sent from its own origin is accepted on the catalog and /rest/v1', async () => {
      const ok = { origin: 'https://app.example.com' };
      expect((await t.http().get(tables()).set('apikey', key).set(ok)).status).toBe(200);
      expect((await t.http().get(rest()).set('apikey', key).set(ok)).status).toBe(200);
    });
  });

  it('the secret key sent from a browser Origin without allow_browser gets 403 on every surface, and changes nothing', async () => {
    expect(await everySurface(p.secret, { origin: 'https://evil.example' })).toEqual(all(403));
    await nothingChanged();
  });

  it('an expired secret key and a revoked one get 401 on every surface, and change nothing', async () => {
    const expiring = await mkKey({ type: 'secret', expires_at: new Date(Date.now() + 2000).toISOString() });
    const revoked = await mkKey({ type: 'secret' });
    await t.http().delete(`/v1/projects/${p.ref}/keys/${revoked.id}`).set(u.auth).expect(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await everySurface(expiring.key)).toEqual(all(401));
    expect(await everySurface(revoked.key)).toEqual(all(401));
    await nothingChanged();
  });

  it("another project's secret key gets 401 on every surface, and changes nothing", async () => {
    expect(await everySurface(other.secret)).toEqual(all(401));
    await nothingChanged();
  });

  it('a restricted key limited to another table gets 403 on /rest/v1 for this one, and the catalog refuses it with 401', async () => {
    const key = (await mkKey({ type: 'restricted', scopes: ['rest:*'], tables: ['elsewhere'] })).key;
    const res = await everySurface(key);
    expect(res).toEqual({ 'GET tables': 401, 'POST tables': 401, 'PUT rules': 401, 'GET rest': 403, 'POST rest': 403 });
    await nothingChanged();
  });

  it('a personal access token as a bearer on the catalog is taken as the console user, not refused as a bad API key', async () => {
    const created = await t.http().post('/v1/me/tokens').set(u.auth).send({ name: 'deploy', expires_in_days: 1 });
    const res = await t.http().get(tables()).set('authorization', `Bearer ${created.body.token}`);
    expect(res.status).toBe(200);
    expect(res.body.map((x: { name: string }) => x.name)).toContain('private_notes');
  });

  describe('bodies are read only after the key is judged', () => {
    const server = () => t.app.getHttpServer() as Server;

    /**
     * Sends a request's headers and the start of a 1 MB body, then trickles a byte every 100 ms and never finishes.
     * Resolves with what came back within `withinMs` (status and headers), and whether the server then closed.
     */
    async function trickle(path: string, headers: Record<string, string>, withinMs = 2000): Promise<{ status: number; head: string; ms: number; socket: Socket }> {
      const port = (server().address() as { port: number }).port;
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined); // writes after the server closed
      await once(socket, 'connect');
      const lines = Object.entries({ host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '1000000', ...headers });
      socket.write(`POST ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n{"title":"${'x'.repeat(1000)}`);
      const started = Date.now();
      const timer = setInterval(() => socket.writable && socket.write('x'), 100);
      socket.once('close', () => clearInterval(timer));
      let data = '';
      socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
      while (!data.includes('\r\n\r\n') && Date.now() - started < withinMs) await new Promise((r) => setTimeout(r, 20));
      if (!data.includes('\r\n\r\n')) {
        clearInterval(timer);
        socket.destroy();
        return { status: 0, head: '', ms: Date.now() - started, socket };
      }
      const head = data.slice(0, data.indexOf('\r\n\r\n')).toLowerCase();
      return { status: Number(/^http\/1\.1 (\d{3})/.exec(head)?.[1]), head, ms: Date.now() - started, socket };
    }

    /** Resolves true once the server has ended the connection (within the deadline), else false. */
    async function serverCloses(socket: Socket, withinMs = 3000): Promise<boolean> {
      if (socket.readableEnded || socket.destroyed) return true;
      const ended = await Promise.race([once(socket, 'end').then(() => true), once(socket, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), withinMs))]);
      socket.destroy();
      return ended;
    }

    it('a bad key with a trickling 1 MB body gets 401 within 2 s on POST /p/:ref/rest/v1/:table (the tenant edge), and the connection is closed', async () => {
      const r = await trickle(rest(), { apikey: 'pl_sk_' + 'A'.repeat(38) });
      expect(r.status).toBe(401);
      expect(r.head).toContain('connection: close');
      expect(await serverCloses(r.socket)).toBe(true);
    });

    it('a bad key with a trickling 1 MB body gets 401 within 2 s on a Nest route (POST /p/:ref/auth/v1/signup), and the connection is closed', async () => {
      const r = await trickle(`/p/${p.ref}/auth/v1/signup`, { apikey: 'pl_pk_' + 'A'.repeat(38) });
      expect(r.status).toBe(401);
      expect(r.head).toContain('connection: close');
      expect(await serverCloses(r.socket)).toBe(true);
    });

    it('no key with a trickling non-JSON body gets 401 within 2 s on POST /p/:ref/rest/v1/:table (the Express path)', async () => {
      const r = await trickle(rest(), { 'content-type': 'application/x-www-form-urlencoded' });
      expect(r.status).toBe(401);
      expect(await serverCloses(r.socket)).toBe(true);
    });

    it('an unknown runtime answers 404 within 2 s, before the body is read', async () => {
      const r = await trickle(`/p/${p.ref}/bogus/v1/thing`, { apikey: p.secret });
      expect(r.status).toBe(404);
      expect(await serverCloses(r.socket)).toBe(true);
    });

    it('a valid key still has its body read and served', async () => {
      expect((await t.http().post(rest()).set('apikey', p.secret).set('prefer', 'return=representation').send({})).status).toBe(201);
    });

    it('sets header and request timeouts shorter than Node defaults, from config', () => {
      expect([server().headersTimeout, server().requestTimeout]).toEqual([20_000, 60_000]);
    });
  });
});

describe('attack: several end-user sessions from one IP', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;

  beforeAll(async () => {
    t = await bootTestApp({ RATE_LIMITS_ENABLED: 'true', REDIS_PREFIX: testRedisPrefix('keys') });
    registerTestTokens(t);
    u = await signup(t, 'sessions');
    p = await createProject(t, u, 'sessions');
    await t.sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ('test_sessions', 'test_sessions', false, 99, 0, true, '{}', '{}',
               '{"project": {"limit": 1000, "window_s": 60}, "key": {"limit": 1000, "window_s": 60}, "anon_ip": {"limit": 2, "window_s": 60},
                 "end_user": {"limit": 5, "window_s": 60}, "authenticated_ip": {"limit": 8, "window_s": 60}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
    );
    t.app.get(PlansService).forget();
    await t.app.get(PlansService).setOrgPlan(u.orgId, 'test_sessions');
  });
  afterAll(() => t.close());

  const asUser = async (token: string) => t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.publishable).set('authorization', `Bearer ${token}`);

  it('the seeded plans carry an authenticated per-IP rule five times their anonymous one', async () => {
    const { rows } = await t.sql.query(`SELECT id, rate_limits FROM control.plans WHERE id IN ('free', 'pro', 'enterprise') ORDER BY sort`);
    expect(rows.map((r) => [r.id, r.rate_limits.authenticated_ip, r.rate_limits.anon_ip.limit * 5])).toEqual([
      ['free', { limit: 100, window_s: 1 }, 100],
      ['pro', { limit: 500, window_s: 1 }, 500],
      ['enterprise', { limit: 5000, window_s: 1 }, 5000],
    ]);
  });

  it('together hit the authenticated per-IP limit (429 with Retry-After) where one session alone does not', async () => {
    const alice = await signUserToken(p.ref, 'alice');
    const bob = await signUserToken(p.ref, 'bob');
    // Alice alone: her own 5 per minute, all admitted (the IP's 8 is not reached).
    for (let i = 0; i < 5; i++) expect((await asUser(alice)).status).toBe(200);
    // Bob from the same IP: 3 more make the IP's 8; the next is refused although Bob has used only 3 of his 5.
    for (let i = 0; i < 3; i++) expect((await asUser(bob)).status).toBe(200);
    const refused = await asUser(bob);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['ratelimit-limit']).toBe('8');
  });
});
