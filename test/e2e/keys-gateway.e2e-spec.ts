import { KeyVerifier } from '@plinth/keys';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';

describe('API keys (/v1/projects/:ref/keys) and the gateway (/p/:ref)', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  beforeAll(async () => {
    t = await bootTestApp();
    u = await signup(t);
    p = await createProject(t, u);
  });
  afterAll(() => t.close());

  const rest = (ref: string) => `/p/${ref}/rest/v1/`;

  it('lists keys without secrets and with display hints', async () => {
    const res = await t.http().get(`/v1/projects/${p.ref}/keys`).set(u.auth);
    expect(res.status).toBe(200);
    expect(res.body.map((k: { type: string }) => k.type)).toEqual(['publishable', 'secret']);
    expect(res.body[1]).toMatchObject({ last4: p.secret.slice(-4), display: `pl_sk_…${p.secret.slice(-4)}` });
    expect(JSON.stringify(res.body)).not.toContain(p.secret);
  });

  it('stores no plaintext key anywhere in the control schema', async () => {
    const extra = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'restricted', name: 'r', scopes: ['rest:read'] });
    const { rows } = await t.sql.query(`SELECT row_to_json(k)::text AS j FROM control.api_keys k`);
    const dump = rows.map((r) => r.j).join('\n');
    for (const key of [p.publishable, p.secret, extra.body.key]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(6, 30));
    }
    const audit = await t.sql.query(`SELECT coalesce(string_agg(row_to_json(a)::text, ''), '') AS j FROM control.audit_log a`);
    expect(audit.rows[0].j).not.toContain(extra.body.key);
  });

  it('serves the project table list to a valid key, with CORS and a request id', async () => {
    const res = await t.http().get(rest(p.ref)).set('apikey', p.publishable).set('origin', 'https://app.example.com');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ swagger: '2.0', definitions: {} });
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers['x-request-id']).toMatch(/.+/);
    const bearer = await t.http().get(rest(p.ref)).set('authorization', `Bearer ${p.publishable}`);
    expect(bearer.status).toBe(200);
    const pre = await t
      .http()
      .options(rest(p.ref))
      .set('origin', 'https://app.example.com')
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'apikey, content-type, prefer');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-headers']).toContain('apikey');
    expect(pre.headers['access-control-allow-methods']).toContain('PATCH');
  });

  it('gives byte-identical 401s for missing-checksum, unknown, revoked, expired and other-project keys', async () => {
    const other = await createProject(t, u, 'other');
    const revoked = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'publishable', name: 'to revoke' });
    await t.http().delete(`/v1/projects/${p.ref}/keys/${revoked.body.id}`).set(u.auth).expect(200);
    const expiring = await t
      .http()
      .post(`/v1/projects/${p.ref}/keys`)
      .set(u.auth)
      .send({ type: 'publishable', name: 'short', expires_at: new Date(Date.now() + 3000).toISOString() });
    expect((await t.http().get(rest(p.ref)).set('apikey', expiring.body.key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(expiring.body.expires_at).getTime() - Date.now() + 100)));

    const flipped = p.publishable.slice(0, -1) + (p.publishable.endsWith('a') ? 'b' : 'a');
    const unknown = 'pl_pk_' + 'A'.repeat(38);
    const bodies = new Set<string>();
    for (const key of [flipped, unknown, revoked.body.key, expiring.body.key, other.publishable, other.secret, 'pl_sk_x', "' OR 1=1 --"]) {
      const res = await t.http().get(rest(p.ref)).set('apikey', key);
      expect(res.status).toBe(401);
      bodies.add(res.text);
    }
    expect([...bodies]).toEqual(['{"code":"invalid_api_key","message":"Invalid API key","details":null,"hint":null}']);
    expect((await t.http().get(rest(p.ref))).status).toBe(401);
  });

  it('makes a revoke effective at once on another instance', async () => {
    const second = await bootTestApp();
    try {
      const k = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'publishable', name: 'cached' });
      expect((await second.http().get(rest(p.ref)).set('apikey', k.body.key)).status).toBe(200);
      await t.http().delete(`/v1/projects/${p.ref}/keys/${k.body.id}`).set(u.auth).expect(200);
      // The second instance caches the key for KEY_CACHE_TTL_MS (10 min by default): only the pushed invalidation
      // can turn it into a 401 within the 2 s polled here.
      const deadline = Date.now() + 2000;
      let status = 200;
      while (Date.now() < deadline) {
        status = (await second.http().get(rest(p.ref)).set('apikey', k.body.key)).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it('keeps keys cached long while revocations are pushed, and forgets them all when the push is lost', async () => {
    const second = await bootTestApp();
    try {
      const k = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'publishable', name: 'long-cached' });
      expect((await second.http().get(rest(p.ref)).set('apikey', k.body.key)).status).toBe(200);
      // Revoked behind Plinth's back (no notification): the second instance's long-lived cache entry still serves it…
      await t.sql.query(`UPDATE control.api_keys SET revoked_at = now() WHERE id = $1`, [k.body.id]);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await second.http().get(rest(p.ref)).set('apikey', k.body.key)).status).toBe(200);
      // …until the listeners lose their connection: notifications may have been missed, so every cache is emptied.
      await t.sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'plinth-listener' AND datname = current_database()`);
      const deadline = Date.now() + 2000;
      let status = 200;
      while (Date.now() < deadline) {
        status = (await second.http().get(rest(p.ref)).set('apikey', k.body.key)).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);
      // And the listener is back: a revoke through the API reaches the second instance again.
      const k2 = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'publishable', name: 'after-reconnect' });
      await new Promise((r) => setTimeout(r, 1500)); // the listener reconnects a second after losing its connection
      expect((await second.http().get(rest(p.ref)).set('apikey', k2.body.key)).status).toBe(200);
      await t.http().delete(`/v1/projects/${p.ref}/keys/${k2.body.id}`).set(u.auth).expect(200);
      const deadline2 = Date.now() + 2000;
      status = 200;
      while (Date.now() < deadline2) {
        status = (await second.http().get(rest(p.ref)).set('apikey', k2.body.key)).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it('rotates: the old key works until expire_old_at and not after', async () => {
    const k = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'secret', name: 'deploy' });
    const at = new Date(Date.now() + 3000).toISOString();
    const rotated = await t.http().post(`/v1/projects/${p.ref}/keys/${k.body.id}/rotate`).set(u.auth).send({ expire_old_at: at });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ type: 'secret', name: 'deploy', rotated_from: k.body.id, previous: { id: k.body.id, expires_at: at } });
    expect(rotated.body.key).not.toBe(k.body.key);
    expect((await t.http().get(rest(p.ref)).set('apikey', k.body.key)).status).toBe(200);
    expect((await t.http().get(rest(p.ref)).set('apikey', rotated.body.key)).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(at).getTime() - Date.now() + 100)));
    expect((await t.http().get(rest(p.ref)).set('apikey', k.body.key)).status).toBe(401);
    expect((await t.http().get(rest(p.ref)).set('apikey', rotated.body.key)).status).toBe(200);
    // Rotating without a date retires the old key at once.
    const again = await t.http().post(`/v1/projects/${p.ref}/keys/${rotated.body.id}/rotate`).set(u.auth).send({});
    expect((await t.http().get(rest(p.ref)).set('apikey', rotated.body.key)).status).toBe(401);
    expect((await t.http().get(rest(p.ref)).set('apikey', again.body.key)).status).toBe(200);
  });

  it('refuses a secret key from a browser unless the key allows it', async () => {
    const res = await t.http().get(rest(p.ref)).set('apikey', p.secret).set('origin', 'https://evil.example');
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/browser/);
    const browserOk = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'secret', name: 'edge', allow_browser: true });
    expect((await t.http().get(rest(p.ref)).set('apikey', browserOk.body.key).set('origin', 'https://x.example')).status).toBe(200);
  });

  it('enforces allowed origins and IP ranges', async () => {
    const k = await t
      .http()
      .post(`/v1/projects/${p.ref}/keys`)
      .set(u.auth)
      .send({ type: 'publishable', name: 'web', allowed_origins: ['https://app.example.com'] });
    expect((await t.http().get(rest(p.ref)).set('apikey', k.body.key).set('origin', 'https://app.example.com')).status).toBe(200);
    expect((await t.http().get(rest(p.ref)).set('apikey', k.body.key).set('origin', 'https://evil.example')).status).toBe(403);

    const local = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'secret', name: 'lan', allowed_ips: ['127.0.0.0/8'] });
    expect((await t.http().get(rest(p.ref)).set('apikey', local.body.key)).status).toBe(200);
    const remote = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'secret', name: 'office', allowed_ips: ['203.0.113.0/24'] });
    expect((await t.http().get(rest(p.ref)).set('apikey', remote.body.key)).status).toBe(403);
  });

  it('keeps a restricted key inside its scopes', async () => {
    const readOnly = await t
      .http()
      .post(`/v1/projects/${p.ref}/keys`)
      .set(u.auth)
      .send({ type: 'restricted', name: 'reporting', scopes: ['rest:*'], read_only: true, tables: ['orders'] });
    expect(readOnly.status).toBe(201);
    expect(readOnly.body.key).toMatch(/^pl_rk_/);
    expect((await t.http().get(rest(p.ref)).set('apikey', readOnly.body.key)).status).toBe(200);
    expect((await t.http().post(`/p/${p.ref}/rest/v1/orders`).set('apikey', readOnly.body.key).send({})).status).toBe(403);
    expect((await t.http().get(`/p/${p.ref}/storage/v1/bucket`).set('apikey', readOnly.body.key)).status).toBe(403);

    const storageOnly = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'restricted', name: 's', scopes: ['storage:read'] });
    expect((await t.http().get(rest(p.ref)).set('apikey', storageOnly.body.key)).status).toBe(403);
  });

  it('answers 404 for unknown runtime paths', async () => {
    expect((await t.http().get(`/p/${p.ref}/bogus/v1/`).set('apikey', p.publishable)).status).toBe(404);
    expect((await t.http().get(`/p/${p.ref}/rest/v1/nothing/here`).set('apikey', p.publishable)).status).toBe(404);
    expect((await t.http().get(`/p/${p.ref}/rest/v2/`).set('apikey', p.publishable)).status).toBe(404);
  });

  it('validates key requests', async () => {
    const bad = [
      { type: 'master', name: 'x' },
      { type: 'restricted', name: 'no scopes' },
      { type: 'restricted', name: 'bad scope', scopes: ['rest:destroy'] },
      { type: 'publishable', name: 'x', scopes: ['rest:read'] },
      { type: 'publishable', name: 'x', allowed_origins: ['https://a.example/path'] },
      { type: 'secret', name: 'x', allowed_ips: ['10.0.0.0/33'] },
      { type: 'secret', name: 'x', expires_at: '2001-01-01T00:00:00Z' },
      { type: 'restricted', name: 'x', scopes: ['rest:read'], tables: ['orders; drop table x'] },
    ];
    const before = (await t.http().get(`/v1/projects/${p.ref}/keys`).set(u.auth)).body.length;
    for (const body of bad) {
      const res = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send(body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    expect((await t.http().get(`/v1/projects/${p.ref}/keys`).set(u.auth)).body.length).toBe(before);
    expect((await t.http().delete(`/v1/projects/${p.ref}/keys/00000000-0000-4000-8000-000000000000`).set(u.auth)).status).toBe(404);
    expect((await t.http().post(`/v1/projects/${p.ref}/keys/nope/rotate`).set(u.auth).send({})).status).toBe(404);
  });

  it('records last use without a write per request', async () => {
    const k = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'publishable', name: 'tracked' });
    for (let i = 0; i < 5; i++) await t.http().get(rest(p.ref)).set('apikey', k.body.key).expect(200);
    const before = await t.sql.query('SELECT last_used_at FROM control.api_keys WHERE id = $1', [k.body.id]);
    expect(before.rows[0].last_used_at).toBeNull();
    await t.app.get(KeyVerifier).flushLastUsed();
    const after = await t.sql.query('SELECT last_used_at FROM control.api_keys WHERE id = $1', [k.body.id]);
    expect(after.rows[0].last_used_at).not.toBeNull();
  });
});
