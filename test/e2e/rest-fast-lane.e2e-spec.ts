import type { INestApplication } from '@nestjs/common';
import { PassThrough } from 'node:stream';
import request, { Response } from 'supertest';
import { loadConfig } from '@plinth/config';
import { GatewayGuard } from '@plinth/gateway';
import { createApiApp } from '../../apps/api/src/app.factory';
import { RestFastLane } from '../../apps/api/src/rest-fast-lane';
import { TEST_SECRET } from '../support/global-setup';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules } from '../support/data';

const ENV = { LOG_LEVEL: 'info', BODY_LIMIT_BYTES: '2048' };

/** The same api without the fast lane (its tenant routes served by the Nest controller), on the same database. */
async function bootNestOnly(): Promise<{ app: INestApplication; http: () => ReturnType<typeof request> }> {
  const databaseUrl = process.env.PLINTH_TEST_DATABASE_URL as string;
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, PLINTH_SECRET: TEST_SECRET, PORT: '0', RATE_LIMITS_ENABLED: 'false', ...ENV });
  const app = await createApiApp(config, databaseUrl, false, new PassThrough().resume(), { restFastLane: false });
  await app.listen(0, '127.0.0.1');
  return { app, http: () => request(app.getHttpServer()) };
}

/**
 * The data fast lane (apps/api/src/rest-fast-lane.ts) serves `/p/:ref/rest/v1/:table` in front of Express. A second
 * app without it serves the same project through the Nest controller, so each case is sent to both and must come
 * back the same: status, body and the headers clients see (errors, limits, CORS, request id).
 */
describe('data fast lane', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let n: Awaited<ReturnType<typeof bootNestOnly>>;
  const lines: string[] = [];
  // Spying on the controller's methods would hide their route metadata from Nest; the lane and the guard are safe.
  const laneServes = jest.spyOn(RestFastLane.prototype, 'serve');
  const guardRuns = jest.spyOn(GatewayGuard.prototype, 'canActivate');

  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    t = await bootTestApp(ENV, stream);
    n = await bootNestOnly();
    u = await signup(t, 'fastlane');
    p = await createProject(t, u, 'fastlane');
    await declareTable(t, u, p, {
      name: 'todos',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'title', type: 'text', nullable: false },
      ],
    });
    await putRules(t, u, p, 'todos', [{ role: 'anon', action: 'read' }]);
  });
  afterAll(async () => {
    await n.app.close();
    await t.close();
  });
  beforeEach(() => jest.clearAllMocks());

  const path = (q = '') => `/p/${p.ref}/rest/v1/todos${q}`;
  const SEEN = [
    'content-type',
    'content-range',
    'content-location',
    'preference-applied',
    'www-authenticate',
    'retry-after',
    'ratelimit-limit',
    'ratelimit-remaining',
    'ratelimit-reset',
    'vary',
    'access-control-allow-origin',
    'access-control-allow-credentials',
    'access-control-expose-headers',
    'x-request-id',
  ];
  const shape = (r: Response) => ({
    status: r.status,
    body: r.body as unknown,
    text: r.text,
    headers: Object.fromEntries(SEEN.filter((h) => r.headers[h] !== undefined).map((h) => [h, r.headers[h]])),
  });

  it('serves reads and writes itself, outside the Nest controller and guard', async () => {
    const ins = await t.http().post(path()).set('apikey', p.secret).set('prefer', 'return=representation').send({ title: 'one' });
    expect(ins.status).toBe(201);
    expect(ins.body).toEqual([{ id: expect.any(Number), title: 'one' }]);
    const read = await t.http().get(path('?select=title')).set('apikey', p.publishable);
    expect(read.status).toBe(200);
    expect(read.body).toEqual([{ title: 'one' }]);
    expect(laneServes.mock.results.map((r) => r.value)).toEqual([true, true]);
    expect(guardRuns).not.toHaveBeenCalled();

    const viaNest = await n.http().get(path('?select=title')).set('apikey', p.publishable);
    expect(viaNest.body).toEqual([{ title: 'one' }]);
    expect(laneServes).toHaveBeenCalledTimes(2);
    expect(guardRuns).toHaveBeenCalledTimes(1);
  });

  type Http = () => ReturnType<typeof request>;
  type Case = [string, (http: Http, path: string) => Promise<Response>];
  const cases: Case[] = [
    ['a read with count', (http, path) => http().get(`${path}?select=title&order=id`).set('apikey', p.secret).set('prefer', 'count=exact').set('x-request-id', 'same-1')],
    ['a HEAD', (http, path) => http().head(path).set('apikey', p.secret).set('x-request-id', 'same-2')],
    ['no key (401, WWW-Authenticate)', (http, path) => http().get(path).set('x-request-id', 'same-3')],
    ['an invalid key', (http, path) => http().get(path).set('apikey', 'pl_sk_nope').set('x-request-id', 'same-4')],
    ['a bearer key', (http, path) => http().get(path).set('authorization', `Bearer ${p.secret}`).set('x-request-id', 'same-5')],
    ['an invalid end-user token', (http, path) => http().get(path).set('apikey', p.publishable).set('authorization', 'Bearer not.a.jwt').set('x-request-id', 'same-6')],
    ['a secret key from a browser (403, CORS)', (http, path) => http().get(path).set('apikey', p.secret).set('origin', 'https://app.example').set('x-request-id', 'same-7')],
    ['the publishable key from a browser (CORS)', (http, path) => http().get(path).set('apikey', p.publishable).set('origin', 'https://app.example').set('x-request-id', 'same-8')],
    ['an anonymous write (PostgREST error)', (http, path) => http().post(path).set('apikey', p.publishable).send({ title: 'x' }).set('x-request-id', 'same-9')],
    ['a PostgREST parse error', (http, path) => http().get(`${path}?id=zz.1`).set('apikey', p.secret).set('x-request-id', 'same-10')],
    ['an unknown column', (http, path) => http().get(`${path}?select=nope`).set('apikey', p.secret).set('x-request-id', 'same-11')],
    ['malformed JSON', (http, path) => http().post(path).set('apikey', p.secret).set('content-type', 'application/json').send('{"title":').set('x-request-id', 'same-12')],
    ['a body over the limit', (http, path) => http().post(path).set('apikey', p.secret).send({ title: 'x'.repeat(4096) }).set('x-request-id', 'same-13')],
    ['a JSON string at the top level', (http, path) => http().post(path).set('apikey', p.secret).set('content-type', 'application/json').send('"title"').set('x-request-id', 'same-16')],
    ['a latin1 charset (415)', (http, path) => http().post(path).set('apikey', p.secret).set('content-type', 'application/json; charset=latin1').send('{"title":"x"}').set('x-request-id', 'same-17')],
    ['a corrupt gzip body (400)', (http, path) => http().post(path).set('apikey', p.secret).set('content-type', 'application/json').set('content-encoding', 'gzip').send('not gzip at all').set('x-request-id', 'same-18')],
    ['a non-JSON body', (http, path) => http().post(path).set('apikey', p.secret).set('content-type', 'text/plain').send('hello').set('x-request-id', 'same-14')],
    ['a PATCH and DELETE with filters', async (http, path) => {
      await http().patch(`${path}?title=eq.none`).set('apikey', p.secret).send({ title: 'y' });
      return http().delete(`${path}?title=eq.none`).set('apikey', p.secret).set('prefer', 'return=representation').set('x-request-id', 'same-15');
    }],
  ];

  it.each(cases)('answers %s exactly as the Nest route does', async (name, send) => {
    const viaFast = await send(() => t.http(), path());
    // A non-JSON body is left to Express (its parsers decide what it becomes); the rest is the lane's.
    if (name === 'a non-JSON body') expect(laneServes.mock.results.map((r) => r.value)).toEqual([false]);
    else expect(guardRuns).not.toHaveBeenCalled();
    const viaNest = await send(() => n.http(), path());
    expect(shape(viaFast)).toEqual(shape(viaNest));
  });

  it('answers an unknown table and the OpenAPI root as the Nest route does', async () => {
    const unknownFast = await t.http().get(`/p/${p.ref}/rest/v1/nope`).set('apikey', p.secret).set('x-request-id', 'u-1');
    const unknownNest = await n.http().get(`/p/${p.ref}/rest/v1/nope`).set('apikey', p.secret).set('x-request-id', 'u-1');
    expect(unknownFast.status).toBe(404);
    expect(shape(unknownFast)).toEqual(shape(unknownNest));
    const root = await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret);
    expect(root.status).toBe(200);
    const rootNest = await n.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret);
    expect(shape(root)).toEqual({ ...shape(rootNest), headers: { ...shape(rootNest).headers, 'x-request-id': root.headers['x-request-id'] } });
    expect(root.headers.etag).toBe(rootNest.headers.etag);
    expect(root.body.paths).toHaveProperty(['/todos']);
    const again = await t.http().get(`/p/${p.ref}/rest/v1`).set('apikey', p.secret).set('if-none-match', root.headers.etag);
    expect(again.status).toBe(304);
    expect(laneServes.mock.results.map((r) => r.value)).toEqual([true, true, true]);
  });

  it('honours a sane x-request-id, makes one otherwise, and logs one line per request without credentials', async () => {
    const given = await t.http().get(path('?select=title')).set('apikey', p.secret).set('x-request-id', 'fast-lane-trace');
    expect(given.headers['x-request-id']).toBe('fast-lane-trace');
    const made = await t.http().get(path()).set('apikey', p.secret).set('x-request-id', 'bad id with spaces');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    const mine = lines
      .map((l) => JSON.parse(l) as { req?: { id?: string; method?: string; path?: string; headers?: Record<string, string> }; res?: { statusCode?: number }; responseTime?: number })
      .filter((l) => l.req?.id === 'fast-lane-trace');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ req: { method: 'GET', path: `/p/${p.ref}/rest/v1/todos` }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    expect(mine[0].req?.headers?.apikey).toBe('[redacted]');
    expect(lines.join('\n')).not.toContain(p.secret);
  });

  it('leaves preflights and other paths to Express', async () => {
    const pre = await t.http().options(path()).set('origin', 'https://app.example').set('access-control-request-method', 'POST');
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toContain('PATCH');
    const put = await t.http().put(path()).set('apikey', p.secret).send({});
    expect(put.status).toBe(404);
    expect((await t.http().get('/healthz')).body).toEqual({ status: 'ok' });
  });
});
