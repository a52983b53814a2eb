import { PassThrough } from 'node:stream';
import { bootTestApp, createProject, PASSWORD, signup, TestApp } from '../support/test-app';

describe('operations: health, docs, request ids, logs', () => {
  let t: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    t = await bootTestApp({ LOG_LEVEL: 'info' }, stream);
  });
  afterAll(() => t.close());

  it('answers /healthz and /readyz', async () => {
    expect((await t.http().get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.http().get('/readyz')).body).toEqual({ status: 'ok', database: 'ok', migrations: 'applied' });
  });

  it('serves the OpenAPI document at /docs.json and the UI at /docs', async () => {
    const doc = await t.http().get('/docs.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const path of ['/v1/auth/signup', '/v1/orgs/{orgId}/projects', '/v1/projects/{ref}/keys/{id}/rotate', '/v1/orgs/{orgId}/audit-log']) {
      expect(doc.body.paths).toHaveProperty([path]);
    }
    expect(doc.body.paths['/v1/auth/signup'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('email');
    const ui = await t.http().get('/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('returns x-request-id, honouring a sane incoming one, and uses one error shape on /v1', async () => {
    const given = await t.http().get('/healthz').set('x-request-id', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.http().get('/healthz').set('x-request-id', 'bad id with spaces');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await t.http().get('/v1/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'not_found', message: 'Cannot GET /v1/nowhere' } });
  });

  it('logs JSON lines with the request id and never a credential', async () => {
    const u = await signup(t, 'logged');
    const p = await createProject(t, u);
    const res = await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret).set('x-request-id', 'trace-me-1');
    expect(res.status).toBe(200);
    await t.http().post('/v1/auth/login').send({ email: u.email, password: PASSWORD });
    await new Promise((r) => setTimeout(r, 50));
    const parsed = lines.map((l) => JSON.parse(l) as { req?: { id?: string }; level: number });
    expect(parsed.some((l) => l.req?.id === 'trace-me-1')).toBe(true);
    const all = lines.join('\n');
    for (const secret of [p.secret, p.publishable, u.token, u.refresh, PASSWORD]) expect(all).not.toContain(secret);
    expect(all).toContain('[redacted]');
  });
});
