import { randomUUID } from 'node:crypto';
import { FunctionCronTickJob, FunctionLogs } from '@plinth/runtime-functions';
import { MeteringService } from '@plinth/metering';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { declareTable, putRules, registerTestTokens, signUserToken, supabase } from '../support/data';

/**
 * The functions runtime end to end: deploy (TS compiled by swc), invoke with the real supabase-js
 * `functions.invoke` and plain HTTP (JSON, text, form, binary), versions and rollback, secrets, logs, verify_jwt,
 * env.db as anon / end user / service role, rpc(), cron on the test clock — and another project's key or function.
 */
describe('functions runtime', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  const alice = randomUUID();
  const bob = randomUUID();

  const deploy = (name: string, body: Record<string, unknown>, project = p) => t.http().put(`/v1/projects/${project.ref}/functions/${name}`).set(u.auth).send({ verify_jwt: false, ...body });
  const fn = (project: TestProject, name: string, path = '') => `/p/${project.ref}/functions/v1/${name}${path}`;

  beforeAll(async () => {
    t = await bootTestApp({ FUNCTION_RUNNERS: '2' }, undefined, { withWorker: true });
    registerTestTokens(t);
    u = await signup(t, 'functions');
    p = await createProject(t, u, 'fns');
    other = await createProject(t, u, 'fns-other');
    await declareTable(t, u, p, {
      name: 'todos',
      columns: [
        { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
        { name: 'owner_id', type: 'uuid' },
        { name: 'title', type: 'text' },
        { name: 'public', type: 'bool', default: false },
      ],
    });
    await putRules(t, u, p, 'todos', [
      { role: 'anon', action: 'read', where: { public: true } },
      { role: 'authenticated', action: 'read', where: { owner_id: '$auth.uid' } },
    ]);
    await supabase(t, p.ref, p.secret)
      .from('todos')
      .insert([
        { owner_id: alice, title: 'alice public', public: true },
        { owner_id: alice, title: 'alice private', public: false },
        { owner_id: bob, title: 'bob private', public: false },
      ])
      .throwOnError();
    await declareTable(t, u, other, { name: 'todos', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'title', type: 'text' }] });
    await putRules(t, u, other, 'todos', [{ role: 'anon', action: 'read' }]);
    await supabase(t, other.ref, other.secret).from('todos').insert([{ title: 'other project secret row' }]).throwOnError();
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('deploys TypeScript and answers supabase-js functions.invoke with JSON, status and headers as the function set them', async () => {
    const res = await deploy('hello', {
      language: 'ts',
      source: `
        interface In { name?: string }
        export default {
          async fetch(req: Request): Promise<Response> {
            const body: In = req.method === 'POST' ? await req.json() : {};
            return Response.json({ hello: body.name ?? 'world', method: req.method, path: new URL(req.url).pathname }, { status: 201, headers: { 'x-fn': 'yes' } });
          },
        };`,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'hello', version: 1, language: 'ts' });
    const client = supabase(t, p.ref, p.publishable);
    const { data, error, response } = await client.functions.invoke('hello', { body: { name: 'plinth' } });
    expect(error).toBeNull();
    expect(data).toEqual({ hello: 'plinth', method: 'POST', path: `/p/${p.ref}/functions/v1/hello` });
    expect(response?.status).toBe(201);
    expect(response?.headers.get('x-fn')).toBe('yes');
  });

  it('passes text, form and binary bodies both ways and sub-paths and queries through', async () => {
    await deploy('echo', {
      language: 'js',
      source: `export default { async fetch(req) {
        const type = req.headers.get('content-type') || '';
        const url = new URL(req.url);
        if (type.startsWith('application/octet-stream')) { const b = new Uint8Array(await req.arrayBuffer()); return new Response(b.map((x) => 255 - x), { headers: { 'content-type': 'application/octet-stream' } }); }
        if (type.startsWith('multipart/form-data') || type.startsWith('application/x-www-form-urlencoded')) { const f = await req.formData(); return Response.json({ a: f.get('a'), sub: url.pathname.split('/echo')[1], q: url.searchParams.get('q') }); }
        return new Response('got: ' + await req.text(), { headers: { 'content-type': 'text/plain' } });
      } }`,
    });
    const client = supabase(t, p.ref, p.publishable);
    const text = await client.functions.invoke('echo', { body: 'plain words' });
    expect(text.data).toBe('got: plain words');
    const form = new FormData();
    form.append('a', 'field value');
    const multipart = await client.functions.invoke('echo', { body: form });
    expect(multipart.data).toMatchObject({ a: 'field value' });
    const bin = await client.functions.invoke('echo', { body: new Uint8Array([0, 1, 254]).buffer as ArrayBuffer, headers: { 'content-type': 'application/octet-stream' } });
    expect(new Uint8Array(await (bin.data as Blob).arrayBuffer())).toEqual(new Uint8Array([255, 254, 1]));
    const sub = await t.http().post(`${fn(p, 'echo', '/deep/path')}?q=7`).set('apikey', p.publishable).type('form').send('a=x');
    expect(sub.status).toBe(200);
    expect(sub.body).toEqual({ a: 'x', sub: '/deep/path', q: '7' });
  });

  it('refuses a source that does not compile with 400, line and column, and keeps the deployed version', async () => {
    const res = await deploy('hello', { language: 'ts', source: 'export default {\n  fetch() { return 1 +; }\n}' });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/line 2, column \d+/);
    expect(res.body.error.details[0]).toMatchObject({ line: 2 });
    const imports = await deploy('bad', { language: 'js', source: "import fs from 'node:fs';\nexport default { fetch() { return new Response(fs) } }" });
    expect(imports.status).toBe(400);
    const list = await t.http().get(`/v1/projects/${p.ref}/functions`).set(u.auth);
    expect(list.body.find((f: { name: string }) => f.name === 'hello').version).toBe(1);
    expect(list.body.some((f: { name: string }) => f.name === 'bad')).toBe(false);
  });

  it('keeps immutable versions and rolls back to one', async () => {
    for (const v of ['one', 'two']) expect((await deploy('ver', { language: 'js', source: `export default { fetch() { return new Response('${v}') } }` })).status).toBe(200);
    const call = () => t.http().get(fn(p, 'ver')).set('apikey', p.publishable);
    expect((await call()).text).toBe('two');
    const versions = await t.http().get(`/v1/projects/${p.ref}/functions/ver/versions`).set(u.auth);
    expect(versions.body.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    const back = await t.http().post(`/v1/projects/${p.ref}/functions/ver/rollback`).set(u.auth).send({ version: 1 });
    expect(back.status).toBe(200);
    expect(back.body.version).toBe(1);
    expect((await call()).text).toBe('one');
    expect((await t.http().post(`/v1/projects/${p.ref}/functions/ver/rollback`).set(u.auth).send({ version: 9 })).status).toBe(404);
  });

  it('answers 404 for an unknown function, 500 with an error id for a thrown error, and 404 after DELETE', async () => {
    const unknown = await t.http().get(fn(p, 'nope')).set('apikey', p.publishable);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
    await deploy('throws', { language: 'js', source: `export default { fetch() { throw new Error('boom inside') } }` });
    const thrown = await t.http().get(fn(p, 'throws')).set('apikey', p.publishable);
    expect(thrown.status).toBe(500);
    expect(thrown.body.error_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(thrown.body)).not.toContain('boom inside');
    expect((await t.http().delete(`/v1/projects/${p.ref}/functions/throws`).set(u.auth)).status).toBe(204);
    expect((await t.http().get(fn(p, 'throws')).set('apikey', p.publishable)).status).toBe(404);
  });

  it('with verify_jwt answers 401 without a valid end-user token and runs with one', async () => {
    await deploy('private', { verify_jwt: true, language: 'js', source: `export default { fetch(req, env) { return Response.json({ uid: env.auth.user && env.auth.user.id }) } }` });
    const anon = await t.http().get(fn(p, 'private')).set('apikey', p.publishable);
    expect(anon.status).toBe(401);
    const forged = await t.http().get(fn(p, 'private')).set('apikey', p.publishable).set('authorization', 'Bearer not.a.jwt');
    expect(forged.status).toBe(401);
    const foreign = await signUserToken(other.ref, alice);
    expect((await t.http().get(fn(p, 'private')).set('apikey', p.publishable).set('authorization', `Bearer ${foreign}`)).status).toBe(401);
    const token = await signUserToken(p.ref, alice);
    const { data, error } = await supabase(t, p.ref, p.publishable, token).functions.invoke('private', { method: 'GET' });
    expect(error).toBeNull();
    expect(data).toEqual({ uid: alice });
  });

  it('gives env.secrets sealed at rest, names-only listing, and deletion', async () => {
    const put = await t.http().put(`/v1/projects/${p.ref}/functions/secrets`).set(u.auth).send({ GREETING: 'hola', OTHER: 'x' });
    expect(put.status).toBe(200);
    const stored = await t.sql.query(`SELECT value_enc FROM control.function_secrets WHERE project_id = $1 AND name = 'GREETING'`, [p.id]);
    expect(stored.rows[0].value_enc).not.toContain('hola');
    const names = await t.http().get(`/v1/projects/${p.ref}/functions/secrets`).set(u.auth);
    expect(names.body.map((s: { name: string }) => s.name)).toEqual(['GREETING', 'OTHER']);
    expect(JSON.stringify(names.body)).not.toContain('hola');
    await deploy('greet', { language: 'js', source: `export default { fetch(req, env) { return Response.json({ g: env.secrets.GREETING ?? null, o: env.secrets.OTHER ?? null }) } }` });
    expect((await t.http().get(fn(p, 'greet')).set('apikey', p.publishable)).body).toEqual({ g: 'hola', o: 'x' });
    expect((await t.http().delete(`/v1/projects/${p.ref}/functions/secrets/OTHER`).set(u.auth)).status).toBe(204);
    expect((await t.http().delete(`/v1/projects/${p.ref}/functions/secrets/OTHER`).set(u.auth)).status).toBe(404);
    expect((await t.http().get(fn(p, 'greet')).set('apikey', p.publishable)).body).toEqual({ g: 'hola', o: null });
    // Another project's functions don't see them.
    await deploy('greet', { language: 'js', source: `export default { fetch(req, env) { return Response.json(env.secrets) } }` }, other);
    expect((await t.http().get(fn(other, 'greet')).set('apikey', other.publishable)).body).toEqual({});
  });

  it('env.db honours the rules as anon and as the end user, bypasses them with service_role, and stays in its project', async () => {
    const source = `export default { async fetch(req, env) { const { data, error } = await env.db.from('todos').select('title').order('id'); return Response.json({ titles: data && data.map((r) => r.title), error }) } }`;
    await deploy('todos', { language: 'js', source });
    const anon = await t.http().get(fn(p, 'todos')).set('apikey', p.publishable);
    expect(anon.body.titles).toEqual(['alice public']);
    const aliceToken = await signUserToken(p.ref, alice);
    const user = await supabase(t, p.ref, p.publishable, aliceToken).functions.invoke('todos', { method: 'GET' });
    expect((user.data as { titles: string[] }).titles).toEqual(['alice public', 'alice private']);
    await deploy('todos-admin', { language: 'js', service_role: true, source });
    const admin = await t.http().get(fn(p, 'todos-admin')).set('apikey', p.publishable);
    expect(admin.body.titles).toEqual(['alice public', 'alice private', 'bob private']);
    // The project is the invocation's: a function of `other` reading "todos" sees only other's rows.
    await deploy('todos', { language: 'js', service_role: true, source }, other);
    const foreign = await t.http().get(fn(other, 'todos')).set('apikey', other.publishable);
    expect(foreign.body.titles).toEqual(['other project secret row']);
    // A schema-qualified or crafted table name is refused, not resolved elsewhere.
    await deploy('sneaky', { language: 'js', service_role: true, source: `export default { async fetch(req, env) { const r = await env.db.from('t_${p.ref}.todos').select('*'); const s = await env.db.from('../todos').select('*'); return Response.json({ a: r.error && r.error.code, b: s.error && s.error.code, d: r.data }) } }` }, other);
    const sneaky = await t.http().get(fn(other, 'sneaky')).set('apikey', other.publishable);
    expect(sneaky.body.d).toBeNull();
    expect(sneaky.body.a).toBeTruthy();
    expect(sneaky.body.b).toBeTruthy();
  });

  it('refuses another project\'s key and a function name of another project', async () => {
    const wrongKey = await t.http().get(fn(p, 'hello')).set('apikey', other.publishable);
    expect(wrongKey.status).toBe(401);
    expect((await t.http().get(fn(other, 'hello')).set('apikey', other.publishable)).status).toBe(404);
    expect((await t.http().put(`/v1/projects/${p.ref}/functions/x`).set('apikey', other.secret).send({ source: 'export default {}', language: 'js' })).status).toBe(401);
    expect((await t.http().put(`/v1/projects/${p.ref}/functions/x`).set('apikey', p.publishable).send({ source: 'export default {}', language: 'js' })).status).toBe(401);
  });

  it('deploys with the project secret key (deploy scripts) and validates input with 400', async () => {
    const res = await t.http().put(`/v1/projects/${p.ref}/functions/by-key`).set('apikey', p.secret).send({ source: `export default { fetch() { return new Response('k') } }`, language: 'js', verify_jwt: false });
    expect(res.status).toBe(200);
    expect((await deploy('Bad Name', { source: 'x', language: 'js' })).status).toBe(400);
    expect((await deploy('ok', { source: 'x', language: 'rust' })).status).toBe(400);
    expect((await deploy('ok', { source: 'export default {}', language: 'js', cron: 'every day' })).status).toBe(400);
    expect((await deploy('ok', { source: 'export default {}', language: 'js', memory_mb: 4096 })).status).toBe(400);
  });

  it('records logs with request id, status and console output, filterable by level and request id', async () => {
    await deploy('logger', { language: 'js', source: `export default { fetch() { console.log('info line', { a: 1 }); console.error('bad thing'); return new Response('ok') } }` });
    const call = await t.http().get(fn(p, 'logger')).set('apikey', p.publishable).set('x-request-id', 'req-logs-1');
    expect(call.status).toBe(200);
    const logs = await t.http().get(`/v1/projects/${p.ref}/functions/logger/logs`).set(u.auth);
    expect(logs.status).toBe(200);
    const entry = logs.body.find((l: { request_id: string }) => l.request_id === 'req-logs-1');
    expect(entry).toMatchObject({ status: 200, level: 'error', memory_mb: expect.any(Number) });
    expect(entry.lines.map((l: { message: string }) => l.message)).toEqual(['info line {"a":1}', 'bad thing']);
    const errorsOnly = await t.http().get(`/v1/projects/${p.ref}/functions/logger/logs?level=error&request_id=req-logs-1`).set(u.auth);
    expect(errorsOnly.body[0].lines.map((l: { message: string }) => l.message)).toEqual(['bad thing']);
    expect((await t.http().get(`/v1/projects/${p.ref}/functions/logger/logs`).set('apikey', other.secret)).status).toBe(401);
  });

  it('serves rpc() for rpc functions in PostgREST shapes, with 404 PGRST202 for others', async () => {
    await deploy('add', { language: 'js', rpc: true, rpc_read_only: true, source: `export default { async fetch(req) { const a = await req.json(); return Response.json(Number(a.a) + Number(a.b)) } }` });
    const client = supabase(t, p.ref, p.publishable);
    const { data, error } = await client.rpc('add', { a: 2, b: 3 });
    expect(error).toBeNull();
    expect(data).toBe(5);
    const get = await client.rpc('add', { a: 4, b: 1 }, { get: true });
    expect(get.data).toBe(5);
    const unknown = await client.rpc('hello', {});
    expect(unknown.error).toMatchObject({ code: 'PGRST202' });
    expect(unknown.status).toBe(404);
    expect((await supabase(t, other.ref, other.publishable).rpc('add', { a: 1, b: 1 })).error).toMatchObject({ code: 'PGRST202' });
  });

  it('meters invocations and GB-seconds', async () => {
    await t.http().get(fn(p, 'hello')).set('apikey', p.publishable);
    const usage = t.app.get(MeteringService);
    await usage.flush();
    const rows = await t.sql.query(`SELECT meter, sum(quantity)::float AS q FROM control.usage_minute WHERE project_id = $1 AND meter LIKE 'function_%' GROUP BY meter`, [p.id]);
    const byMeter = Object.fromEntries(rows.rows.map((r: { meter: string; q: number }) => [r.meter, r.q]));
    expect(byMeter.function_invocations).toBeGreaterThan(5);
    expect(byMeter.function_gb_seconds).toBeGreaterThan(0);
  });

  it('answers 402 naming the meter once the project\'s function invocations are used up', async () => {
    await deploy('capped', { language: 'js', source: `export default { fetch() { return new Response('ran') } }` }, other);
    expect((await t.http().get(fn(other, 'capped')).set('apikey', other.publishable)).status).toBe(200);
    const caps = await t.http().put(`/v1/projects/${other.ref}/limits`).set(u.auth).send({ meter_caps: { function_invocations: 1 } });
    expect(caps.status).toBe(200);
    const refused = await t.http().get(fn(other, 'capped')).set('apikey', other.publishable);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 'quota_exceeded', meter: 'function_invocations' });
    // Only that project: p's functions still run.
    expect((await t.http().get(fn(p, 'hello')).set('apikey', p.publishable)).status).toBe(201);
  });

  it('runs a cron function once per matching minute on the test clock', async () => {
    // A schedule no other suite uses (13:07 on 29 February): the tick counts every project's due functions, and the
    // suites share one database.
    await deploy('ticker', { language: 'js', service_role: true, cron: '7 13 29 2 *', source: `export default { async fetch(req) { const b = await req.json(); console.log('tick', b.scheduled_at); return new Response('ok') } }` });
    const tick = t.app.get(FunctionCronTickJob);
    const at = Date.UTC(2032, 1, 29, 13, 7, 0);
    expect(await tick.enqueueDue(at)).toBe(1);
    expect(await tick.enqueueDue(at + 20_000)).toBe(0);
    expect(await tick.enqueueDue(at + 60_000)).toBe(0);
    // The run is in the outbox; the app's in-process worker takes it. (Not through JobScheduler.tick() on a clock moved
    // to 2032: that would enqueue every maintenance schedule — usage roll-up, pruning, period closing — in 2030, and
    // those jobs act on the database the other suites share.)
    const deadline = Date.now() + 15_000;
    let ticks: string[] = [];
    while (Date.now() < deadline) {
      await t.app.get(FunctionLogs).flush();
      const r = await t.sql.query(`SELECT lines FROM control.function_logs WHERE project_id = $1 AND function_name = 'ticker'`, [p.id]);
      ticks = r.rows.flatMap((x: { lines: Array<{ message: string }> }) => x.lines.map((l) => l.message));
      if (ticks.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ticks).toEqual([`tick ${new Date(at).toISOString()}`]);
  });
});
