import { PassThrough } from 'node:stream';
import { MeteringService } from '@plinth/metering';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules } from '../support/data';

const ENV = { LOG_LEVEL: 'info', BODY_LIMIT_BYTES: '2048' };

/**
 * The tenant edge (libs/gateway/src/edge/tenant-edge.ts) is the only implementation of `/p/:ref/<runtime>/v1/*`:
 * request id and log line, CORS, route, key, admission, body, handler, errors in the runtime's dialect. Each case
 * names the status it must get.
 */
describe('tenant edge', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  const lines: string[] = [];

  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    t = await bootTestApp(ENV, stream);
    u = await signup(t, 'edge');
    p = await createProject(t, u, 'edge');
    await declareTable(t, u, p, {
      name: 'todos',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'title', type: 'text', nullable: false },
      ],
    });
    await putRules(t, u, p, 'todos', [{ role: 'anon', action: 'read' }]);
  });
  afterAll(() => t.close());

  const path = (q = '') => `/p/${p.ref}/rest/v1/todos${q}`;
  const restricted = async (body: object) => {
    const res = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ name: 'edge', type: 'restricted', ...body });
    expect(res.status).toBe(201);
    return res.body.key as string;
  };

  it('serves reads and writes (201, 200), a read with count, HEAD, PATCH and DELETE with filters', async () => {
    const ins = await t.http().post(path()).set('apikey', p.secret).set('prefer', 'return=representation').send({ title: 'one' });
    expect(ins.status).toBe(201);
    expect(ins.body).toEqual([{ id: expect.any(Number), title: 'one' }]);
    const read = await t.http().get(path('?select=title')).set('apikey', p.publishable);
    expect([read.status, read.body]).toEqual([200, [{ title: 'one' }]]);
    const counted = await t.http().get(path('?select=title&order=id')).set('apikey', p.secret).set('prefer', 'count=exact');
    expect([counted.status, counted.headers['content-range']]).toEqual([200, '0-0/1']);
    const head = await t.http().head(path()).set('apikey', p.secret);
    expect([head.status, head.text]).toEqual([200, undefined]);
    const patched = await t.http().patch(path('?title=eq.one')).set('apikey', p.secret).set('prefer', 'return=representation').send({ title: 'two' });
    expect([patched.status, patched.body]).toEqual([200, [{ id: expect.any(Number), title: 'two' }]]);
    const deleted = await t.http().delete(path('?title=eq.none')).set('apikey', p.secret).set('prefer', 'return=representation');
    expect([deleted.status, deleted.body]).toEqual([200, []]);
  });

  it('a ref with no project behind it gets 404 "Project not found", with a valid key of another project or none', async () => {
    for (const key of [p.secret, undefined]) {
      const req = t.http().get('/p/nosuchproject1/rest/v1/todos');
      const res = await (key ? req.set('apikey', key) : req);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found', message: 'Project not found' });
    }
  });

  it('serves what a browser fetches bare (the JWKS) without a key, metered as the project\'s; a bad key there is still 401', async () => {
    const usage = async () =>
      Number((await t.sql.query(`SELECT coalesce(sum(quantity), 0)::int AS n FROM control.usage_minute WHERE project_id = $1 AND meter = 'requests:auth'`, [p.id])).rows[0].n);
    await t.app.get(MeteringService).flush();
    const before = await usage();
    const jwks = await t.http().get(`/p/${p.ref}/auth/v1/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toEqual([expect.objectContaining({ kty: 'EC', alg: 'ES256' })]);
    const bad = await t.http().get(`/p/${p.ref}/auth/v1/.well-known/jwks.json`).set('apikey', 'pl_pk_nope');
    expect([bad.status, bad.body.error_code]).toEqual([401, 'invalid_api_key']);
    // Other auth routes still need a key.
    expect((await t.http().get(`/p/${p.ref}/auth/v1/settings`)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 20));
    await t.app.get(MeteringService).flush();
    expect(await usage()).toBe(before + 1);
  });

  it('a request without a key gets 401 with WWW-Authenticate, in PostgREST shape', async () => {
    const res = await t.http().get(path());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toEqual({ code: 'invalid_api_key', message: 'No API key found in request', details: null, hint: null });
  });

  it('an invalid key gets 401, a key as bearer 200, an invalid end-user token 401', async () => {
    expect((await t.http().get(path()).set('apikey', 'pl_sk_nope')).status).toBe(401);
    expect((await t.http().get(path()).set('authorization', `Bearer ${p.secret}`)).status).toBe(200);
    const user = await t.http().get(path()).set('apikey', p.publishable).set('authorization', 'Bearer not.a.jwt');
    expect([user.status, user.body.code]).toEqual([401, 'unauthorized']);
  });

  it('a secret key from a browser gets 403 with CORS headers; the publishable key 200', async () => {
    const refused = await t.http().get(path()).set('apikey', p.secret).set('origin', 'https://app.example');
    expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
    expect(refused.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(refused.headers['access-control-allow-credentials']).toBe('true');
    const ok = await t.http().get(path()).set('apikey', p.publishable).set('origin', 'https://app.example');
    expect([ok.status, ok.headers['access-control-allow-origin']]).toEqual([200, 'https://app.example']);
  });

  it('answers a preflight (204) without credentials', async () => {
    const pre = await t.http().options(path()).set('origin', 'https://app.example').set('access-control-request-method', 'POST');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toContain('PATCH');
    expect(pre.headers['access-control-allow-headers']).toContain('apikey');
  });

  describe('bodies, read only after the key is judged', () => {
    const post = () => t.http().post(path()).set('apikey', p.secret);
    it('malformed JSON (400)', async () => {
      const res = await post().set('content-type', 'application/json').send('{"title":');
      expect([res.status, res.body.code]).toEqual([400, 'malformed_json']);
    });
    it('a JSON string at the top level (400)', async () => {
      const res = await post().set('content-type', 'application/json').send('"title"');
      expect([res.status, res.body.code]).toEqual([400, 'malformed_json']);
    });
    it('a body over the limit (413)', async () => {
      const res = await post().send({ title: 'x'.repeat(4096) });
      expect([res.status, res.body.code]).toEqual([413, 'payload_too_large']);
    });
    it('a latin1 charset (415)', async () => {
      const res = await post().set('content-type', 'application/json; charset=latin1').send('{"title":"x"}');
      expect([res.status, res.body.code]).toEqual([415, 'unsupported_media_type']);
    });
    it('a text body to a JSON route (415), saying which Content-Type it takes', async () => {
      const res = await post().set('content-type', 'text/plain').send('{"title":"x"}');
      expect([res.status, res.body.code]).toEqual([415, 'unsupported_media_type']);
      expect(res.body.message).toBe('This endpoint takes a JSON body (Content-Type: application/json); the request has Content-Type text/plain');
    });
    it('a corrupt gzip body (400)', async () => {
      const res = await post().set('content-type', 'application/json').set('content-encoding', 'gzip').send('not gzip at all');
      expect([res.status, res.body.code, res.body.message]).toEqual([400, 'bad_request', 'The request body could not be read']);
    });
    it('a body with an invalid key is not read: 401 at once, and the connection closes', async () => {
      const res = await t.http().post(path()).set('apikey', 'pl_sk_nope').send({ title: 'x'.repeat(4096) });
      expect([res.status, res.headers.connection]).toEqual([401, 'close']);
    });
  });

  it('answers an unknown table 404 in PostgREST shape, and a method no route takes 404 after the key (401 without)', async () => {
    const unknown = await t.http().get(`/p/${p.ref}/rest/v1/nope`).set('apikey', p.secret);
    expect([unknown.status, unknown.body.code]).toEqual([404, 'PGRST205']);
    const put = await t.http().put(path()).set('apikey', p.secret).send({});
    expect([put.status, put.body]).toEqual([404, { code: 'not_found', message: 'Route not found', details: null, hint: null }]);
    expect((await t.http().put(path()).send({})).status).toBe(401);
  });

  it('answers an unknown runtime 404 before the key, in Plinth shape; other paths under /p 404; /healthz is Nest', async () => {
    const bogus = await t.http().get(`/p/${p.ref}/bogus/v1/x`);
    expect([bogus.status, bogus.body.error?.code]).toEqual([404, 'not_found']);
    expect((await t.http().get(`/p/${p.ref}/rest/v2/todos`).set('apikey', p.secret)).status).toBe(404);
    expect((await t.http().get('/healthz')).body).toEqual({ status: 'ok' });
  });

  it('refuses a restricted key outside its scopes with the same 403 on rest (PostgREST), auth (GoTrue) and the catalog (401 there)', async () => {
    const key = await restricted({ scopes: ['rest:read'], tables: ['todos'] });
    expect((await t.http().get(path()).set('apikey', key)).status).toBe(200);
    const write = await t.http().post(path()).set('apikey', key).send({ title: 'x' });
    expect([write.status, write.body]).toEqual([403, { code: 'forbidden', message: "This key's scopes do not allow rest:write", details: null, hint: null }]);
    const auth = await t.http().get(`/p/${p.ref}/auth/v1/settings`).set('apikey', key);
    expect([auth.status, auth.body]).toEqual([403, { code: 403, error_code: 'forbidden', msg: "This key's scopes do not allow auth:read" }]);
    const unknownAuthRoute = await t.http().get(`/p/${p.ref}/auth/v1/nowhere`).set('apikey', p.publishable);
    expect([unknownAuthRoute.status, unknownAuthRoute.body]).toEqual([404, { code: 404, error_code: 'not_found', msg: 'Route not found' }]);
    expect((await t.http().get(`/v1/projects/${p.ref}/tables`).set('apikey', key)).status).toBe(401);
  });

  it('serves the OpenAPI root (200) with an ETag, and 304 for a matching If-None-Match', async () => {
    const root = await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret);
    expect(root.status).toBe(200);
    expect(root.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(root.body.paths).toHaveProperty(['/todos']);
    expect(root.headers.etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
    const again = await t.http().get(`/p/${p.ref}/rest/v1`).set('apikey', p.secret).set('if-none-match', root.headers.etag);
    expect(again.status).toBe(304);
  });

  it('honours a sane x-request-id, makes one otherwise, and logs one line per request without credentials', async () => {
    const given = await t.http().get(path('?select=title')).set('apikey', p.secret).set('x-request-id', 'edge-trace');
    expect(given.headers['x-request-id']).toBe('edge-trace');
    const made = await t.http().get(path()).set('apikey', p.secret).set('x-request-id', 'bad id with spaces');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const mine = lines
      .map((l) => JSON.parse(l) as { req?: { id?: string; method?: string; path?: string; headers?: Record<string, string> }; res?: { statusCode?: number }; responseTime?: number })
      .filter((l) => l.req?.id === 'edge-trace');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ req: { method: 'GET', path: `/p/${p.ref}/rest/v1/todos` }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    expect(mine[0].req?.headers?.apikey).toBe('[redacted]');
    expect(lines.join('\n')).not.toContain(p.secret);
  });
});
