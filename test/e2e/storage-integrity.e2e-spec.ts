import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { TENANT_MIGRATIONS, tenantSchemaNames } from '@plinth/database';
import { ProjectDirectory } from '@plinth/gateway';
import { STORAGE_BACKEND, StorageBackend, StorageService, SweepOrphanBytesJob } from '@plinth/runtime-storage';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { registerTestTokens, supabase } from '../support/data';
import { startStorage, TestStorage } from '../support/storage';

/** Every byte key the backend holds for a project. */
async function keysOf(backend: StorageBackend, ref: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of backend.list(`${ref}/`)) out.push(key);
  return out.sort();
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const tusMeta = (bucket: string, name: string, extra = '') => `bucketName ${b64(bucket)},objectName ${b64(name)}${extra}`;

/**
 * An upload over node:http that sends `first`, waits for `release` to resolve, then sends `rest`: a request that is
 * in flight (its size declared, its bytes not all there) while others run.
 */
function heldUpload(base: string, path: string, headers: Record<string, string>, first: Buffer, release: Promise<void>, rest: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    const req = httpRequest({ host: hostname, port, path, method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write(first);
    void release.then(() => req.end(rest));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['disk', 's3'] as const)('storage integrity on %s', (kind) => {
  let storage: TestStorage;
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let backend: StorageBackend;
  const url = (path: string, ref = p.ref) => `${t.baseUrl}/p/${ref}/storage/v1${path}`;
  const pendingRows = async (ref: string) => (await t.sql.query(`SELECT key, reserved::float8 AS reserved FROM t_${ref}._storage_pending ORDER BY key`)).rows as Array<{ key: string; reserved: number }>;

  beforeAll(async () => {
    storage = await startStorage(kind);
    t = await bootTestApp(storage.env);
    registerTestTokens(t);
    backend = t.app.get<StorageBackend>(STORAGE_BACKEND);
    u = await signup(t, `storage-int-${kind}`);
    p = await createProject(t, u, 'storage-int');
  });

  afterAll(async () => {
    await t?.close();
    await storage?.close();
  });

  describe('TUS 1.0', () => {
    beforeAll(async () => {
      await supabase(t, p.ref, p.secret).storage.createBucket('tus', { public: false, fileSizeLimit: 4096 });
    });

    it('answers OPTIONS discovery with the version, the extensions served and the plan upload limit; a CORS preflight stays a preflight', async () => {
      const res = await fetch(url('/upload/resumable'), { method: 'OPTIONS' });
      expect(res.status).toBe(204);
      expect(res.headers.get('tus-resumable')).toBe('1.0.0');
      expect(res.headers.get('tus-version')).toBe('1.0.0');
      expect(res.headers.get('tus-extension')!.split(',').sort()).toEqual(['creation', 'creation-defer-length', 'creation-with-upload', 'expiration', 'termination']);
      const project = (await t.app.get(ProjectDirectory).find(p.ref))!;
      const max = await t.app.get(StorageService).planUploadMax(project);
      expect(max).toBeGreaterThan(0);
      expect(res.headers.get('tus-max-size')).toBe(String(max));
      const preflight = await fetch(url('/upload/resumable'), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('upload-defer-length');
      expect(preflight.headers.get('tus-version')).toBeNull();
      // Another protocol version is refused with 412, naming the one served.
      const old = await fetch(url('/upload/resumable'), { method: 'POST', headers: { apikey: p.secret, 'tus-resumable': '0.2.2', 'upload-length': '3', 'upload-metadata': tusMeta('tus', 'v.txt') } });
      expect([old.status, old.headers.get('tus-version')]).toEqual([412, '1.0.0']);
    });

    it('takes the first chunk on the POST (creation-with-upload), raw and through tus-js-client', async () => {
      const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
      const created = await fetch(url('/upload/resumable'), {
        method: 'POST',
        headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-length': String(data.length), 'upload-metadata': tusMeta('tus', 'cwu/raw.txt'), 'content-type': 'application/offset+octet-stream' },
        body: data.subarray(0, 10),
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('upload-offset')).toBe('10');
      const location = `${t.baseUrl}${created.headers.get('location')}`;
      const head = await fetch(location, { method: 'HEAD', headers: { apikey: p.secret, 'tus-resumable': '1.0.0' } });
      expect([head.headers.get('upload-offset'), head.headers.get('upload-length')]).toEqual(['10', String(data.length)]);
      const rest = await fetch(location, { method: 'PATCH', headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-offset': '10', 'content-type': 'application/offset+octet-stream' }, body: data.subarray(10) });
      expect([rest.status, rest.headers.get('upload-offset')]).toEqual([204, String(data.length)]);
      const s = supabase(t, p.ref, p.secret).storage;
      expect(await (await s.from('tus').download('cwu/raw.txt')).data!.text()).toBe(data.toString());

      // The whole body on the POST: committed by the POST itself.
      const whole = await fetch(url('/upload/resumable'), {
        method: 'POST',
        headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-length': '5', 'upload-metadata': tusMeta('tus', 'cwu/whole.txt'), 'content-type': 'application/offset+octet-stream' },
        body: 'whole',
      });
      expect([whole.status, whole.headers.get('upload-offset')]).toEqual([201, '5']);
      expect(await (await s.from('tus').download('cwu/whole.txt')).data!.text()).toBe('whole');
      // An empty upload is complete as created.
      const empty = await fetch(url('/upload/resumable'), { method: 'POST', headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-length': '0', 'upload-metadata': tusMeta('tus', 'cwu/empty.txt') } });
      expect([empty.status, empty.headers.get('upload-offset')]).toEqual([201, '0']);
      expect((await s.from('tus').info('cwu/empty.txt')).data).toMatchObject({ size: 0 });

      const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
      await new Promise<void>((resolve, reject) => {
        new tus.Upload(bytes, {
          endpoint: url('/upload/resumable'),
          uploadDataDuringCreation: true,
          chunkSize: 1024,
          retryDelays: [],
          headers: { apikey: p.secret },
          metadata: { bucketName: 'tus', objectName: 'cwu/client.bin', contentType: 'application/octet-stream' },
          onError: reject,
          onSuccess: () => resolve(),
        }).start();
      });
      expect(Buffer.from(await (await s.from('tus').download('cwu/client.bin')).data!.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it('defers the length (creation-defer-length) until a PATCH declares it, holding deferred uploads to the bucket limit', async () => {
      const h = { apikey: p.secret, 'tus-resumable': '1.0.0' };
      const created = await fetch(url('/upload/resumable'), { method: 'POST', headers: { ...h, 'upload-defer-length': '1', 'upload-metadata': tusMeta('tus', 'deferred.txt') } });
      expect(created.status).toBe(201);
      const location = `${t.baseUrl}${created.headers.get('location')}`;
      const head = await fetch(location, { method: 'HEAD', headers: h });
      expect([head.headers.get('upload-defer-length'), head.headers.get('upload-length'), head.headers.get('upload-offset')]).toEqual(['1', null, '0']);
      const patch = (offset: number, body: string, extra: Record<string, string> = {}) =>
        fetch(location, { method: 'PATCH', headers: { ...h, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', ...extra }, body });
      expect((await patch(0, 'hello ')).status).toBe(204);
      expect((await fetch(location, { method: 'HEAD', headers: h })).headers.get('upload-defer-length')).toBe('1');
      // A length past the bucket's limit, or below what was sent, is refused; the upload stays as it was.
      expect((await patch(6, 'x', { 'upload-length': '5000' })).status).toBe(413);
      expect((await patch(6, 'x', { 'upload-length': '3' })).status).toBe(400);
      const last = await patch(6, 'world', { 'upload-length': '11' });
      expect([last.status, last.headers.get('upload-offset')]).toEqual([204, '11']);
      expect(await (await supabase(t, p.ref, p.secret).storage.from('tus').download('deferred.txt')).data!.text()).toBe('hello world');
      // Both at once, or a malformed flag, are 400.
      const both = await fetch(url('/upload/resumable'), { method: 'POST', headers: { ...h, 'upload-defer-length': '1', 'upload-length': '4', 'upload-metadata': tusMeta('tus', 'x.txt') } });
      expect(both.status).toBe(400);
      const bad = await fetch(url('/upload/resumable'), { method: 'POST', headers: { ...h, 'upload-defer-length': '2', 'upload-metadata': tusMeta('tus', 'x.txt') } });
      expect(bad.status).toBe(400);

      // tus-js-client with a stream of unknown length: the length goes with the last chunk.
      const parts = [Buffer.alloc(700, 1), Buffer.alloc(700, 2), Buffer.alloc(300, 3)];
      await new Promise<void>((resolve, reject) => {
        new tus.Upload(Readable.from(parts), {
          endpoint: url('/upload/resumable'),
          uploadLengthDeferred: true,
          chunkSize: 512,
          retryDelays: [],
          headers: { apikey: p.secret },
          metadata: { bucketName: 'tus', objectName: 'deferred-client.bin', contentType: 'application/octet-stream' },
          onError: reject,
          onSuccess: () => resolve(),
        }).start();
      });
      const got = await supabase(t, p.ref, p.secret).storage.from('tus').download('deferred-client.bin');
      expect(Buffer.from(await got.data!.arrayBuffer()).equals(Buffer.concat(parts))).toBe(true);

      // A deferred upload can't stream past the bucket's limit either.
      const big = await fetch(url('/upload/resumable'), { method: 'POST', headers: { ...h, 'upload-defer-length': '1', 'upload-metadata': tusMeta('tus', 'big.txt') } });
      const bigAt = `${t.baseUrl}${big.headers.get('location')}`;
      const over = await fetch(bigAt, { method: 'PATCH', headers: { ...h, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: Buffer.alloc(5000) });
      expect(over.status).toBe(413);
      expect((await fetch(bigAt, { method: 'HEAD', headers: h })).headers.get('upload-offset')).toBe('0');
    });

    it('terminates an upload (DELETE): its parts and its reservation are gone, and only its creator may', async () => {
      const h = { apikey: p.secret, 'tus-resumable': '1.0.0' };
      const created = await fetch(url('/upload/resumable'), {
        method: 'POST',
        headers: { ...h, 'upload-length': '100', 'upload-metadata': tusMeta('tus', 'doomed.bin'), 'content-type': 'application/offset+octet-stream' },
        body: Buffer.alloc(40),
      });
      const location = `${t.baseUrl}${created.headers.get('location')}`;
      const id = location.split('/').pop()!;
      expect((await keysOf(backend, p.ref)).some((k) => k.includes(`/_uploads/${id}/`))).toBe(true);
      expect((await pendingRows(p.ref)).find((r) => r.key === `${p.ref}/_uploads/${id}/`)).toMatchObject({ reserved: 100 });
      expect((await fetch(location, { method: 'DELETE', headers: { apikey: p.publishable, 'tus-resumable': '1.0.0' } })).status).toBe(404);
      const del = await fetch(location, { method: 'DELETE', headers: h });
      expect([del.status, del.headers.get('tus-resumable')]).toEqual([204, '1.0.0']);
      expect((await fetch(location, { method: 'HEAD', headers: h })).status).toBe(404);
      expect((await keysOf(backend, p.ref)).some((k) => k.includes(`/_uploads/${id}/`))).toBe(false);
      expect((await pendingRows(p.ref)).some((r) => r.key.includes(id))).toBe(false);
      expect((await supabase(t, p.ref, p.secret).storage.from('tus').exists('doomed.bin')).data).toBe(false);

      // tus-js-client's abort with termination.
      let uploadUrl = '';
      const up: tus.Upload = new tus.Upload(Buffer.alloc(3000, 7), {
        endpoint: url('/upload/resumable'),
        chunkSize: 1000,
        retryDelays: [],
        headers: { apikey: p.secret },
        metadata: { bucketName: 'tus', objectName: 'client-doomed.bin' },
        onError: () => undefined,
      });
      await new Promise<void>((resolve) => {
        up.options.onChunkComplete = () => {
          if (!uploadUrl) {
            uploadUrl = up.url!;
            resolve();
          }
        };
        up.start();
      });
      await up.abort(true);
      expect((await fetch(uploadUrl, { method: 'HEAD', headers: h })).status).toBe(404);
      const clientId = uploadUrl.split('/').pop()!;
      expect((await keysOf(backend, p.ref)).some((k) => k.includes(`/_uploads/${clientId}/`))).toBe(false);
    });

    it('sweeps an abandoned upload by listing its own prefix only, once it has expired', async () => {
      const h = { apikey: p.secret, 'tus-resumable': '1.0.0' };
      const created = await fetch(url('/upload/resumable'), {
        method: 'POST',
        headers: { ...h, 'upload-length': '100', 'upload-metadata': tusMeta('tus', 'abandoned.bin'), 'content-type': 'application/offset+octet-stream' },
        body: Buffer.alloc(30),
      });
      const id = created.headers.get('location')!.split('/').pop()!;
      const project = (await t.app.get(ProjectDirectory).find(p.ref))!;
      const sweeper = t.app.get(SweepOrphanBytesJob);
      const listing = jest.spyOn(backend, 'list');
      try {
        await sweeper.sweepProject(project);
        expect((await keysOf(backend, p.ref)).some((k) => k.includes(`/_uploads/${id}/`))).toBe(true);
        listing.mockClear();
        t.clock.travel(25 * 3600_000);
        try {
          await sweeper.sweepProject(project);
        } finally {
          t.clock.travel(-25 * 3600_000);
        }
        // Only expired uploads' own prefixes are listed (an earlier test left one abandoned too), never the project.
        const listed = listing.mock.calls.map(([prefix]) => prefix);
        expect(listed).toContain(`${p.ref}/_uploads/${id}/`);
        expect(listed.every((prefix) => new RegExp(`^${p.ref}/_uploads/[0-9a-f-]{36}/$`).test(prefix))).toBe(true);
      } finally {
        listing.mockRestore();
      }
      expect((await keysOf(backend, p.ref)).some((k) => k.includes(`/_uploads/${id}/`))).toBe(false);
      expect((await pendingRows(p.ref)).some((r) => r.key.includes(id))).toBe(false);
    });
  });

  describe('signed render URLs', () => {
    it('bind the token to its transformation: other width, height, resize, quality or format is 400', async () => {
      const s = supabase(t, p.ref, p.secret).storage;
      await s.createBucket('pics');
      const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 10, g: 120, b: 30 } } }).png().toBuffer();
      await s.from('pics').upload('g.png', png, { contentType: 'image/png' });
      const signed = await s.from('pics').createSignedUrl('g.png', 60, { transform: { width: 60, height: 40, resize: 'fill' } });
      expect(signed.error).toBeNull();
      const signedUrl = signed.data!.signedUrl;
      expect(signedUrl).toContain(`/p/${p.ref}/storage/v1/render/image/sign/pics/g.png?token=`);
      const ok = await fetch(signedUrl);
      expect(ok.status).toBe(200);
      expect(await sharp(Buffer.from(await ok.arrayBuffer())).metadata()).toMatchObject({ width: 60, height: 40, format: 'png' });
      // Repeating the signed transformation is fine; changing any part of it is not.
      expect((await fetch(`${signedUrl}&width=60&height=40&resize=fill`)).status).toBe(200);
      for (const tamper of ['width=300', 'height=400', 'resize=contain', 'quality=21', 'format=webp', 'width=60&height=41']) {
        const res = await fetch(`${signedUrl}&${tamper}`);
        expect([tamper, res.status]).toEqual([tamper, 400]);
        expect(await res.json()).toMatchObject({ statusCode: '400', error: 'InvalidSignature' });
      }
      // The token is for this object: another path is refused.
      await s.from('pics').upload('h.png', png, { contentType: 'image/png' });
      expect((await fetch(signedUrl.replace('/pics/g.png', '/pics/h.png'))).status).toBe(400);
      // A plain download token renders the image as it is, never a transformation the signer didn't choose.
      const plain = (await s.from('pics').createSignedUrl('g.png', 60)).data!.signedUrl;
      const plainRender = plain.replace('/object/sign/', '/render/image/sign/');
      const asIs = await fetch(plainRender);
      expect(await sharp(Buffer.from(await asIs.arrayBuffer())).metadata()).toMatchObject({ width: 300, height: 200 });
      expect((await fetch(`${plainRender}&width=10`)).status).toBe(400);
      // As Supabase Storage does, the transformed token also serves the original at /object/sign (see docs/storage.md).
      const original = await fetch(signedUrl.replace('/render/image/sign/', '/object/sign/'));
      expect(original.status).toBe(200);
      expect(Buffer.from(await original.arrayBuffer()).equals(png)).toBe(true);
      // A bad transformation can't be signed.
      const refused = await fetch(url('/object/sign/pics/g.png'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: JSON.stringify({ expiresIn: 60, transform: { width: 99999 } }) });
      expect(refused.status).toBe(400);
      const unknown = await fetch(url('/object/sign/pics/g.png'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: JSON.stringify({ expiresIn: 60, transform: { rotate: 90 } }) });
      expect(unknown.status).toBe(400);
    });
  });

  describe('stored-bytes quota', () => {
    let q: TestProject;
    let owner: TestUser;

    beforeAll(async () => {
      owner = await signup(t, `storage-quota2-${kind}`);
      q = await createProject(t, owner, 'storage-quota2');
      await supabase(t, q.ref, q.secret).storage.createBucket('q');
      const res = await t.http().put(`/v1/projects/${q.ref}/limits`).set(owner.auth).send({ meter_caps: { file_bytes: 100 } });
      expect(res.status).toBe(200);
    });

    const stored = async () => Number((await t.sql.query(`SELECT coalesce(sum(size), 0)::float8 AS s FROM t_${q.ref}._storage_objects`)).rows[0].s);
    const clear = async () => {
      const s = supabase(t, q.ref, q.secret).storage;
      const names = ((await s.from('q').list()).data ?? []).map((o) => o.name);
      if (names.length) await s.from('q').remove(names);
    };

    it('holds an upload in flight against the cap: a second one that would pass it is 402 and stores nothing', async () => {
      await clear();
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = heldUpload(t.baseUrl, `/p/${q.ref}/storage/v1/object/q/first.bin`, { apikey: q.secret, 'content-type': 'application/octet-stream', 'content-length': '60' }, Buffer.alloc(30), held, Buffer.alloc(30));
      // Wait until the first upload's reservation is recorded (its bytes are still on their way).
      for (let i = 0; i < 100 && !(await pendingRows(q.ref)).some((r) => r.reserved === 60); i++) await sleep(20);
      const keysBefore = await keysOf(backend, q.ref);
      const second = await fetch(url('/object/q/second.bin', q.ref), { method: 'POST', headers: { apikey: q.secret, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(60) });
      expect(second.status).toBe(402);
      expect(await second.json()).toMatchObject({ statusCode: '402' });
      release();
      expect(await first).toBe(200);
      expect(await stored()).toBe(60);
      const s = supabase(t, q.ref, q.secret).storage;
      expect((await s.from('q').exists('second.bin')).data).toBe(false);
      // The first upload's bytes, nothing of the second's.
      expect((await keysOf(backend, q.ref)).length).toBe(keysBefore.length + 1);
      // The reservation went with the commit: the rest of the cap is usable.
      expect((await s.from('q').upload('third.bin', Buffer.alloc(40))).error).toBeNull();
      expect(await stored()).toBe(100);
      expect(await pendingRows(q.ref)).toEqual([]);
    });

    it('lets at most the cap through when many uploads race, with or without a declared size', async () => {
      await clear();
      const send = (i: number) => fetch(url(`/object/q/race-${i}.bin`, q.ref), { method: 'POST', headers: { apikey: q.secret, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(30) });
      const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => send(i).then((r) => r.status)));
      expect(statuses.filter((s) => s === 200).length).toBe(3);
      expect(statuses.filter((s) => s !== 200).every((s) => s === 402)).toBe(true);
      expect(await stored()).toBe(90);
      await clear();
      // Chunked bodies declare no size: each reserves what is left of the cap, so a second one waits its turn.
      const chunked = (i: number) =>
        fetch(url(`/object/q/chunked-${i}.bin`, q.ref), {
          method: 'POST',
          headers: { apikey: q.secret, 'content-type': 'application/octet-stream' },
          body: Readable.toWeb(Readable.from([Buffer.alloc(30), Buffer.alloc(30)])) as ReadableStream,
          duplex: 'half',
        } as RequestInit).then((r) => r.status);
      const results = await Promise.all([chunked(1), chunked(2), chunked(3)]);
      expect(results.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
      expect(results.every((s) => s === 200 || s === 402)).toBe(true);
      expect(await stored()).toBeLessThanOrEqual(100);
      expect(await stored()).toBe(60 * results.filter((s) => s === 200).length);
      expect(await pendingRows(q.ref)).toEqual([]);
    });

    it('reserves a resumable upload at creation and releases it on termination', async () => {
      await clear();
      const h = { apikey: q.secret, 'tus-resumable': '1.0.0' };
      const created = await fetch(url('/upload/resumable', q.ref), { method: 'POST', headers: { ...h, 'upload-length': '80', 'upload-metadata': tusMeta('q', 'tus.bin') } });
      expect(created.status).toBe(201);
      const s = supabase(t, q.ref, q.secret).storage;
      expect((await s.from('q').upload('blocked.bin', Buffer.alloc(30))).error).toMatchObject({ status: 402 });
      const over = await fetch(url('/upload/resumable', q.ref), { method: 'POST', headers: { ...h, 'upload-length': '30', 'upload-metadata': tusMeta('q', 'tus2.bin') } });
      expect(over.status).toBe(402);
      expect((await fetch(`${t.baseUrl}${created.headers.get('location')}`, { method: 'DELETE', headers: h })).status).toBe(204);
      expect((await s.from('q').upload('after.bin', Buffer.alloc(30))).error).toBeNull();
    });
  });

  describe('stored-bytes counter', () => {
    let c: TestProject;
    const counter = async (ref = c.ref) => Number((await t.sql.query(`SELECT bytes::float8 AS b FROM t_${ref}._storage_usage`)).rows[0].b);
    const summed = async (ref = c.ref) => Number((await t.sql.query(`SELECT coalesce(sum(size), 0)::float8 AS s FROM t_${ref}._storage_objects`)).rows[0].s);

    beforeAll(async () => {
      const owner = await signup(t, `storage-usage-${kind}`);
      c = await createProject(t, owner, 'storage-usage');
    });

    it('follows every write: uploads, upserts that change size, copies, moves, removes, bucket empty and delete', async () => {
      const s = supabase(t, c.ref, c.secret).storage;
      const expectBytes = async (n: number) => {
        expect(await summed()).toBe(n);
        expect(await counter()).toBe(n);
      };
      await expectBytes(0);
      await s.createBucket('u1');
      await s.createBucket('u2');
      expect((await s.from('u1').upload('a.bin', Buffer.alloc(100))).error).toBeNull();
      expect((await s.from('u1').upload('b.bin', Buffer.alloc(50))).error).toBeNull();
      await expectBytes(150);
      expect((await s.from('u1').upload('a.bin', Buffer.alloc(30), { upsert: true })).error).toBeNull();
      await expectBytes(80);
      expect((await s.from('u1').update('b.bin', Buffer.alloc(70))).error).toBeNull();
      await expectBytes(100);
      // A refused upsert (no upsert flag) changes nothing.
      expect((await s.from('u1').upload('a.bin', Buffer.alloc(999))).error).not.toBeNull();
      await expectBytes(100);
      expect((await s.from('u1').copy('a.bin', 'a-copy.bin', { destinationBucket: 'u2' })).error).toBeNull();
      await expectBytes(130);
      expect((await s.from('u1').move('b.bin', 'moved/b.bin', { destinationBucket: 'u2' })).error).toBeNull();
      await expectBytes(130);
      expect((await s.from('u1').download('a.bin')).error).toBeNull();
      expect((await s.from('u2').remove(['a-copy.bin', 'not-there.bin'])).error).toBeNull();
      await expectBytes(100);
      expect((await s.emptyBucket('u2')).error).toBeNull();
      await expectBytes(30);
      expect((await s.emptyBucket('u1')).error).toBeNull();
      expect((await s.deleteBucket('u1')).error).toBeNull();
      await expectBytes(0);
      // Resumable uploads commit through the same table.
      const h = { apikey: c.secret, 'tus-resumable': '1.0.0' };
      const created = await fetch(url('/upload/resumable', c.ref), {
        method: 'POST',
        headers: { ...h, 'upload-length': '40', 'upload-metadata': tusMeta('u2', 'tus.bin'), 'content-type': 'application/offset+octet-stream' },
        body: Buffer.alloc(40),
      });
      expect(created.status).toBe(201);
      await expectBytes(40);
    });

    it('is added to a project made before it by the tenant migration, starting at the bytes already stored', async () => {
      const s = supabase(t, c.ref, c.secret).storage;
      await s.createBucket('mig');
      expect((await s.from('mig').upload('x.bin', Buffer.alloc(25))).error).toBeNull();
      const before = await summed();
      expect(before).toBeGreaterThanOrEqual(25);
      // The shape before: no counter table, function or triggers.
      const names = tenantSchemaNames(`t_${c.ref}`);
      await t.sql.query(`DROP TABLE "${names.schema}"._storage_usage; DROP FUNCTION "${names.schema}"._storage_usage_count() CASCADE`);
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = '"${names.schema}"._storage_objects'::regclass AND NOT tgisinternal`)).rows[0].n).toBe(0);
      const migration = TENANT_MIGRATIONS.find((m) => m.name === 'StorageUsage1765001000100')!;
      expect(TENANT_MIGRATIONS[TENANT_MIGRATIONS.length - 1]).toBe(migration);
      expect(migration.asOwner).toBe(true);
      const run = async () => {
        await t.sql.query('BEGIN');
        try {
          await t.sql.query(`SET LOCAL ROLE "${names.ownerRole}"; ${migration.up(names)}; RESET ROLE`);
          await t.sql.query('COMMIT');
        } catch (err) {
          await t.sql.query('ROLLBACK');
          throw err;
        }
      };
      await run();
      expect(await counter()).toBe(before);
      // Idempotent: a second run changes nothing.
      await run();
      expect(await counter()).toBe(before);
      // A schema missing a trigger (its objects table made again) gets them back and a fresh total.
      await t.sql.query(`DROP TRIGGER storage_usage_delete ON "${names.schema}"._storage_objects; UPDATE "${names.schema}"._storage_usage SET bytes = 1`);
      await run();
      expect(await counter()).toBe(before);
      expect((await t.sql.query(`SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = '_storage_usage'`, [names.schema])).rows[0].tableowner).toBe(names.ownerRole);
      // The triggers it made count the storage role's writes.
      expect((await s.from('mig').upload('y.bin', Buffer.alloc(10))).error).toBeNull();
      expect((await s.from('mig').remove(['x.bin'])).error).toBeNull();
      expect(await counter()).toBe(before - 15);
      expect(await summed()).toBe(before - 15);
      // A schema without storage tables is skipped.
      await t.sql.query(`CREATE SCHEMA t_nostorage000`);
      try {
        await t.sql.query(migration.up(tenantSchemaNames('t_nostorage000')));
        expect((await t.sql.query(`SELECT to_regclass('t_nostorage000._storage_usage') AS r`)).rows[0].r).toBeNull();
      } finally {
        await t.sql.query(`DROP SCHEMA t_nostorage000 CASCADE`);
      }
    });

    it('keeps the quota on the counter: a reservation past the cap is refused', async () => {
      const owner = await signup(t, `storage-usage-cap-${kind}`);
      const q = await createProject(t, owner, 'storage-usage-cap');
      const s = supabase(t, q.ref, q.secret).storage;
      await s.createBucket('cap');
      expect((await t.http().put(`/v1/projects/${q.ref}/limits`).set(owner.auth).send({ meter_caps: { file_bytes: 100 } })).status).toBe(200);
      expect((await s.from('cap').upload('a.bin', Buffer.alloc(60))).error).toBeNull();
      // The reservation reads the counter, not a sum over the objects: move the counter and the cap follows it.
      await t.sql.query(`UPDATE t_${q.ref}._storage_usage SET bytes = 95`);
      expect((await s.from('cap').upload('b.bin', Buffer.alloc(10))).error).toMatchObject({ status: 402 });
      await t.sql.query(`UPDATE t_${q.ref}._storage_usage SET bytes = 60`);
      expect((await s.from('cap').upload('b.bin', Buffer.alloc(10))).error).toBeNull();
      expect(await counter(q.ref)).toBe(70);
    });
  });

  describe('concurrent replacement', () => {
    it('leaves no untracked bytes when many upserts of one name race: one object, every other key deleted or pending', async () => {
      const s = supabase(t, p.ref, p.secret).storage;
      await s.createBucket('race');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.from('race').upload('same.txt', Buffer.from(`v${i}`), { upsert: true })));
      expect(results.every((r) => r.error === null)).toBe(true);
      const objects = (await t.sql.query(`SELECT key FROM t_${p.ref}._storage_objects WHERE bucket_id = 'race'`)).rows.map((r) => r.key as string);
      expect(objects.length).toBe(1);
      const pending = new Set((await pendingRows(p.ref)).map((r) => r.key));
      const stray = (await keysOf(backend, p.ref)).filter((k) => k.startsWith(`${p.ref}/race/`) && k !== objects[0] && !pending.has(k));
      expect(stray).toEqual([]);
      expect(await (await s.from('race').download('same.txt')).data!.text()).toMatch(/^v\d+$/);
    });
  });

  describe('audit log', () => {
    it('records bucket changes from the tenant API and the management API with the actor, project and bucket', async () => {
      const s = supabase(t, p.ref, p.secret).storage;
      const bucket = `audited-${kind}`;
      await s.createBucket(bucket, { public: false });
      await s.updateBucket(bucket, { public: true, fileSizeLimit: 2048 });
      await s.from(bucket).upload('a.txt', Buffer.from('a'));
      await s.emptyBucket(bucket);
      const rules = await t.http().put(`/v1/projects/${p.ref}/buckets/${bucket}/rules`).set(u.auth).send([{ role: 'anon', action: 'read' }]);
      expect(rules.status).toBe(200);
      expect((await t.http().patch(`/v1/projects/${p.ref}/buckets/${bucket}`).set(u.auth).send({ public: false })).status).toBe(200);
      expect((await s.deleteBucket(bucket)).error).toBeNull();
      // Refused changes are not logged.
      expect((await s.deleteBucket(bucket)).error).toMatchObject({ status: 404 });

      const log = await t.http().get(`/v1/orgs/${u.orgId}/audit-log?limit=50`).set(u.auth);
      expect(log.status).toBe(200);
      const entries = (log.body.entries as Array<{ action: string; actor: { type: string; id: string }; target: { type: string; id: string }; details: Record<string, unknown> }>)
        .filter((e) => e.target.type === 'bucket' && e.target.id === bucket)
        .reverse();
      expect(entries.map((e) => e.action)).toEqual(['bucket.create', 'bucket.update', 'bucket.empty', 'bucket.rules_update', 'bucket.update', 'bucket.delete']);
      expect(entries.every((e) => e.details.project === p.ref)).toBe(true);
      expect(entries[1].details).toMatchObject({ public: true, file_size_limit: 2048 });
      expect(entries[2].details).toMatchObject({ objects: 1 });
      const keyEntries = entries.filter((e) => e.actor.type === 'api_key');
      expect(keyEntries.map((e) => e.action)).toEqual(['bucket.create', 'bucket.update', 'bucket.empty', 'bucket.delete']);
      const key = await t.sql.query(`SELECT project_id FROM control.api_keys WHERE id = $1`, [keyEntries[0].actor.id]);
      expect(key.rows[0]?.project_id).toBe(p.id);
      expect(entries.filter((e) => e.actor.type === 'user').every((e) => e.actor.id === u.id)).toBe(true);

      // Another organization's log shows none of it, and its owner can't read this one.
      const stranger = await signup(t, `storage-audit-stranger-${kind}`);
      const theirs = await t.http().get(`/v1/orgs/${stranger.orgId}/audit-log?limit=50`).set(stranger.auth);
      expect((theirs.body.entries as Array<{ target: { type: string } }>).some((e) => e.target.type === 'bucket')).toBe(false);
      expect((await t.http().get(`/v1/orgs/${u.orgId}/audit-log`).set(stranger.auth)).status).toBeGreaterThanOrEqual(403);
    });
  });
});
