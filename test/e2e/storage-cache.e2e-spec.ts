import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { startStorage, TestStorage } from '../support/storage';

/**
 * Bucket rows (settings and rules) are cached per project on each instance for a few seconds. A change made through
 * one instance must reach the others at once (pushed over LISTEN/NOTIFY by the changing transaction), not when their
 * copy expires: each check below polls the other instance for well under the cache's 5 s lifetime.
 */
describe('storage bucket cache across two app instances', () => {
  let storage: TestStorage;
  let a: TestApp;
  let b: TestApp;
  let u: TestUser;
  let p: TestProject;
  const obj = (t: TestApp, path: string) => `${t.baseUrl}/p/${p.ref}/storage/v1/object${path}`;

  beforeAll(async () => {
    storage = await startStorage('disk');
    // Both instances share the database and the storage directory, as two api processes behind a load balancer do.
    a = await bootTestApp(storage.env);
    b = await bootTestApp(storage.env);
    u = await signup(a, 'storage-cache');
    p = await createProject(a, u, 'storage-cache');
  });

  /**
   * A bucket `id` with one object, made through b: b's cached copy of the project's buckets starts afresh (a change
   * drops the changing instance's copy), so the 5 s lifetime can't run out during the test and hide a missed push.
   */
  async function freshBucket(id: string): Promise<void> {
    const made = await fetch(`${b.baseUrl}/p/${p.ref}/storage/v1/bucket`, { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
    expect(made.status).toBe(200);
    const up = await fetch(obj(b, `/${id}/pic.png`), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'image/png' }, body: Buffer.from('not really a png') });
    expect(up.status).toBe(200);
  }

  afterAll(async () => {
    await b?.close();
    await a?.close();
    await storage?.close();
  });

  /** Polls `probe` on the other instance for up to 2 s until it answers `want`; the last status. */
  async function within2s(probe: () => Promise<number>, want: number): Promise<number> {
    const deadline = Date.now() + 2000;
    let status = await probe();
    while (status !== want && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      status = await probe();
    }
    return status;
  }

  const putRules = async (rules: object[]) => {
    expect((await a.http().put(`/v1/projects/${p.ref}/buckets/ruled/rules`).set(u.auth).send(rules)).status).toBe(200);
  };
  const anonRead = () => fetch(obj(b, '/ruled/pic.png'), { headers: { apikey: p.publishable } }).then(async (r) => (await r.arrayBuffer(), r.status));

  it('sees rules granted and withdrawn on another instance at once', async () => {
    await freshBucket('ruled');
    // Instance b reads (and caches) the rule-less bucket: anon may read nothing.
    expect(await anonRead()).toBe(404);
    await putRules([{ role: 'anon', action: 'read' }]);
    expect(await within2s(anonRead, 200)).toBe(200);
    // Now b holds the bucket with the rule; withdrawing it on a must close b's door too.
    await putRules([]);
    expect(await within2s(anonRead, 404)).toBe(404);
  });

  it('sees a bucket made public, and private again, on another instance at once', async () => {
    await freshBucket('shown');
    const publicRead = () => fetch(obj(b, '/public/shown/pic.png')).then(async (r) => (await r.arrayBuffer(), r.status));
    // Warm b's cache with the private bucket through a keyed read first.
    expect((await fetch(obj(b, '/shown/pic.png'), { headers: { apikey: p.secret } })).status).toBe(200);
    expect(await publicRead()).toBe(404);
    const setPublic = (value: boolean) => fetch(`${a.baseUrl}/p/${p.ref}/storage/v1/bucket/shown`, { method: 'PUT', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: JSON.stringify({ public: value }) });
    expect((await setPublic(true)).status).toBe(200);
    expect(await within2s(publicRead, 200)).toBe(200);
    expect((await setPublic(false)).status).toBe(200);
    expect(await within2s(publicRead, 404)).toBe(404);
  });

  it('applies a size limit set on another instance to the next upload at once', async () => {
    await freshBucket('sized');
    const upload = () =>
      fetch(obj(b, '/sized/big.bin'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }, body: Buffer.alloc(2048, 1) }).then(async (r) => (await r.text(), r.status));
    expect(await upload()).toBe(200);
    const limited = await fetch(`${a.baseUrl}/p/${p.ref}/storage/v1/bucket/sized`, { method: 'PUT', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: '{"file_size_limit":1024}' });
    expect(limited.status).toBe(200);
    expect(await within2s(upload, 413)).toBe(413);
  });

  it("keeps each project's buckets apart: a same-named bucket of another project has its own settings and rules", async () => {
    const other = await createProject(a, u, 'storage-cache-other');
    const made = await fetch(`${b.baseUrl}/p/${other.ref}/storage/v1/bucket`, { method: 'POST', headers: { apikey: other.secret, 'content-type': 'application/json' }, body: '{"id":"twin"}' });
    expect(made.status).toBe(200);
    await fetch(obj(b, '/twin/pic.png').replace(p.ref, other.ref), { method: 'POST', headers: { apikey: other.secret, 'content-type': 'image/png' }, body: Buffer.from('other project') });
    await freshBucket('twin');
    expect((await a.http().put(`/v1/projects/${p.ref}/buckets/twin/rules`).set(u.auth).send([{ role: 'anon', action: 'read' }])).status).toBe(200);
    const mine = () => fetch(obj(b, '/twin/pic.png'), { headers: { apikey: p.publishable } }).then(async (r) => (await r.arrayBuffer(), r.status));
    expect(await within2s(mine, 200)).toBe(200);
    // Both buckets are now cached on b: the other project's, rule-less, still reads nothing for its publishable key,
    // and this project's keys don't reach it.
    const theirs = (key: string) => fetch(obj(b, '/twin/pic.png').replace(p.ref, other.ref), { headers: { apikey: key } });
    expect((await theirs(other.publishable)).status).toBe(404);
    expect((await theirs(p.publishable)).status).toBe(401);
    expect(await (await theirs(other.secret)).text()).toBe('other project');
    expect(await (await fetch(obj(b, '/twin/pic.png'), { headers: { apikey: p.publishable } })).text()).toBe('not really a png');
  });

  it('forgets a bucket deleted on another instance at once', async () => {
    const made = await fetch(`${b.baseUrl}/p/${p.ref}/storage/v1/bucket`, { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: '{"id":"brief"}' });
    expect(made.status).toBe(200);
    const list = () =>
      fetch(obj(b, '/list/brief'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: '{"prefix":""}' }).then(async (r) => (await r.text(), r.status));
    expect(await list()).toBe(200);
    expect((await fetch(`${a.baseUrl}/p/${p.ref}/storage/v1/bucket/brief`, { method: 'DELETE', headers: { apikey: p.secret } })).status).toBe(200);
    expect(await within2s(list, 404)).toBe(404);
  });
});
