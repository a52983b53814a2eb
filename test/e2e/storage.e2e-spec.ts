import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { MeteringService, SampleStorageJob } from '@plinth/metering';
import { ProjectDirectory } from '@plinth/gateway';
import { DELETE_PROJECT_OBJECTS_JOB, DeleteProjectObjectsJob, STORAGE_BACKEND, StorageBackend, StorageService, SweepOrphanBytesJob } from '@plinth/runtime-storage';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { registerTestTokens, signUserToken, supabase } from '../support/data';
import { startStorage, TestStorage } from '../support/storage';

/** A raw upload over node:http, for what fetch can't do (send part of a body, then drop the connection). */
function rawUpload(base: string, path: string, headers: Record<string, string>, chunks: Buffer[], abort = false): Promise<{ status: number; body: string } | 'aborted'> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base);
    // The path as given: a URL string would be normalised (`a/../b` resolved) before it is sent.
    const req = httpRequest({ host: hostname, port, path, method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve('aborted'));
    });
    req.on('error', (e) => (abort ? resolve('aborted') : reject(e)));
    for (const c of chunks) req.write(c);
    if (abort) setTimeout(() => req.destroy(), 200);
    else req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every byte key the backend holds for a project. */
async function keysOf(backend: StorageBackend, ref: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of backend.list(`${ref}/`)) out.push(key);
  return out.sort();
}

describe.each(['disk', 's3'] as const)('storage runtime on %s', (kind) => {
  let storage: TestStorage;
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let backend: StorageBackend;
  const url = (path: string) => `${t.baseUrl}/p/${p.ref}/storage/v1${path}`;

  beforeAll(async () => {
    storage = await startStorage(kind);
    t = await bootTestApp(storage.env);
    registerTestTokens(t);
    backend = t.app.get<StorageBackend>(STORAGE_BACKEND);
    u = await signup(t, `storage-${kind}`);
    p = await createProject(t, u, 'storage');
  });

  afterAll(async () => {
    await t?.close();
    await storage?.close();
  });

  it('creates, reads, updates, lists, empties and deletes buckets through supabase-js (delete refused while not empty)', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    expect(await s.createBucket('docs', { public: false, fileSizeLimit: '1MB', allowedMimeTypes: ['text/*'] })).toEqual({ data: { name: 'docs' }, error: null });
    const dup = await s.createBucket('docs');
    expect(dup.error).toMatchObject({ status: 409, statusCode: '409' });
    const got = await s.getBucket('docs');
    expect(got.data).toMatchObject({ id: 'docs', name: 'docs', public: false, file_size_limit: 1048576, allowed_mime_types: ['text/*'] });
    expect((await s.updateBucket('docs', { public: true, allowedMimeTypes: null })).error).toBeNull();
    expect((await s.getBucket('docs')).data).toMatchObject({ public: true, allowed_mime_types: null });
    expect((await s.listBuckets()).data?.map((b) => b.id)).toContain('docs');
    await s.from('docs').upload('a.txt', Buffer.from('hello')).then((r) => expect(r.error).toBeNull());
    const refused = await s.deleteBucket('docs');
    expect(refused.error).toMatchObject({ status: 409 });
    expect((await s.getBucket('docs')).data?.id).toBe('docs');
    expect((await s.emptyBucket('docs')).error).toBeNull();
    expect(await keysOf(backend, p.ref)).toEqual([]);
    expect(await s.deleteBucket('docs')).toEqual({ data: { message: 'Successfully deleted' }, error: null });
    expect((await s.getBucket('docs')).error).toMatchObject({ status: 404 });
  });

  it('uploads raw and multipart bodies and downloads the same bytes, with type, cache control and metadata', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('files');
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    const raw = await s.from('files').upload('dir/raw.bin', bytes, { contentType: 'application/octet-stream', cacheControl: '120', metadata: { tag: 'x' } });
    expect(raw.error).toBeNull();
    expect(raw.data).toMatchObject({ path: 'dir/raw.bin', fullPath: 'files/dir/raw.bin' });
    const blob = await s.from('files').upload('dir/blob.txt', new Blob(['blob body'], { type: 'text/plain' }), { metadata: { kind: 'blob' } });
    expect(blob.error).toBeNull();

    const down = await s.from('files').download('dir/raw.bin');
    expect(Buffer.from(await down.data!.arrayBuffer()).equals(bytes)).toBe(true);
    expect(await (await s.from('files').download('dir/blob.txt')).data!.text()).toBe('blob body');

    const info = await s.from('files').info('dir/raw.bin');
    expect(info.data).toMatchObject({ name: 'dir/raw.bin', size: bytes.length, contentType: 'application/octet-stream', cacheControl: 'max-age=120', metadata: { tag: 'x' } });
    const blobInfo = await s.from('files').info('dir/blob.txt');
    expect(blobInfo.data).toMatchObject({ contentType: 'text/plain', cacheControl: 'max-age=3600', metadata: { kind: 'blob' } });
    expect((await s.from('files').exists('dir/raw.bin')).data).toBe(true);
    expect((await s.from('files').exists('dir/none.bin')).data).toBe(false);
  });

  it('replaces only with upsert, and the replaced bytes are gone from the backend', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('ups');
    await s.from('ups').upload('f.txt', Buffer.from('one'));
    const before = await keysOf(backend, p.ref);
    const dup = await s.from('ups').upload('f.txt', Buffer.from('two'));
    expect(dup.error).toMatchObject({ status: 409, statusCode: '409' });
    expect(await (await s.from('ups').download('f.txt')).data!.text()).toBe('one');
    expect((await s.from('ups').upload('f.txt', Buffer.from('three'), { upsert: true })).error).toBeNull();
    expect(await (await s.from('ups').download('f.txt')).data!.text()).toBe('three');
    expect((await s.from('ups').update('f.txt', Buffer.from('four'))).error).toBeNull();
    expect(await (await s.from('ups').download('f.txt')).data!.text()).toBe('four');
    const after = await keysOf(backend, p.ref);
    expect(after.length).toBe(before.length);
    expect(after).not.toEqual(before);
  });

  it('lists folders as supabase-js shows them, with prefix, search, sort, limit and offset', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('tree');
    for (const name of ['a/b.txt', 'a/c/d.txt', 'a/c/e.txt', 'e.txt', 'f_1.txt', 'fx2.txt']) await s.from('tree').upload(name, Buffer.from(name));
    const top = await s.from('tree').list();
    expect(top.data!.map((o) => [o.name, o.id === null])).toEqual([['a', true], ['e.txt', false], ['f_1.txt', false], ['fx2.txt', false]]);
    expect(top.data![1].metadata).toMatchObject({ size: 5, mimetype: 'text/plain;charset=UTF-8' });
    const inA = await s.from('tree').list('a');
    expect(inA.data!.map((o) => o.name)).toEqual(['b.txt', 'c']);
    expect((await s.from('tree').list('a/c')).data!.map((o) => o.name)).toEqual(['d.txt', 'e.txt']);
    // `_` in a search is a literal character, not a LIKE wildcard.
    expect((await s.from('tree').list('', { search: 'f_' })).data!.map((o) => o.name)).toEqual(['f_1.txt']);
    expect((await s.from('tree').list('', { search: 'f' })).data!.map((o) => o.name)).toEqual(['f_1.txt', 'fx2.txt']);
    expect((await s.from('tree').list('', { limit: 2, offset: 1 })).data!.map((o) => o.name)).toEqual(['e.txt', 'f_1.txt']);
    expect((await s.from('tree').list('', { sortBy: { column: 'name', order: 'desc' } })).data!.map((o) => o.name)).toEqual(['fx2.txt', 'f_1.txt', 'e.txt', 'a']);
  });

  it('moves (metadata only), copies across buckets and removes objects', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('mv');
    await s.createBucket('mv2');
    await s.from('mv').upload('x/one.txt', Buffer.from('moving'));
    const keys = await keysOf(backend, p.ref);
    expect((await s.from('mv').move('x/one.txt', 'y/two.txt')).error).toBeNull();
    expect(await keysOf(backend, p.ref)).toEqual(keys);
    expect((await s.from('mv').download('x/one.txt')).error).toMatchObject({ status: 404 });
    expect(await (await s.from('mv').download('y/two.txt')).data!.text()).toBe('moving');
    expect((await s.from('mv').copy('y/two.txt', 'copied.txt', { destinationBucket: 'mv2' })).data).toMatchObject({ path: 'mv2/copied.txt' });
    expect(await (await s.from('mv2').download('copied.txt')).data!.text()).toBe('moving');
    expect((await s.from('mv').copy('y/two.txt', 'copied.txt', { destinationBucket: 'mv2' })).error).toMatchObject({ status: 409 });
    const removed = await s.from('mv').remove(['y/two.txt', 'not-there.txt']);
    expect(removed.data!.map((o) => o.name)).toEqual(['y/two.txt']);
    expect((await s.from('mv').download('y/two.txt')).error).toMatchObject({ status: 404 });
    expect(await (await s.from('mv2').download('copied.txt')).data!.text()).toBe('moving');
  });

  it('serves signed URLs without a key, bound to the path and expiry, with download names', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('signed');
    await s.from('signed').upload('doc.txt', Buffer.from('signed body'));
    await s.from('signed').upload('other.txt', Buffer.from('other body'));
    const { data } = await s.from('signed').createSignedUrl('doc.txt', 60);
    const res = await fetch(data!.signedUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('signed body');
    const dl = await s.from('signed').createSignedUrl('doc.txt', 60, { download: 'report.txt' });
    expect((await fetch(dl.data!.signedUrl)).headers.get('content-disposition')).toContain('filename="report.txt"');
    // The token names doc.txt: the same token on another path is refused, and so is a tampered one.
    const other = data!.signedUrl.replace('/doc.txt?', '/other.txt?');
    expect((await fetch(other)).status).toBe(400);
    const tampered = data!.signedUrl.replace(/token=([^.]+)\./, (_m, b: string) => `token=${b.slice(0, -2)}AA.`);
    expect((await fetch(tampered)).status).toBe(400);
    const many = await s.from('signed').createSignedUrls(['doc.txt', 'missing.txt'], 60);
    expect(many.data!.map((d) => [d.path, d.error === null])).toEqual([['doc.txt', true], ['missing.txt', false]]);
    expect(await (await fetch(many.data![0].signedUrl!)).text()).toBe('signed body');
    t.clock.travel(61_000);
    try {
      const expired = await fetch(data!.signedUrl);
      expect(expired.status).toBe(400);
      expect(((await expired.json()) as { message: string }).message).toMatch(/expired/);
    } finally {
      t.clock.travel(-61_000);
    }
  });

  it('takes one upload per signed upload URL, from a client holding only the publishable key', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('drop');
    const { data } = await s.from('drop').createSignedUploadUrl('in/file.txt');
    const anon = supabase(t, p.ref, p.publishable).storage;
    expect((await anon.from('drop').uploadToSignedUrl('in/file.txt', data!.token, Buffer.from('dropped'))).error).toBeNull();
    expect(await (await s.from('drop').download('in/file.txt')).data!.text()).toBe('dropped');
    const again = await anon.from('drop').uploadToSignedUrl('in/file.txt', data!.token, Buffer.from('again'));
    expect(again.error).toMatchObject({ status: 400 });
    expect(await (await s.from('drop').download('in/file.txt')).data!.text()).toBe('dropped');
    // Bound to its path: not usable for another name.
    const second = await s.from('drop').createSignedUploadUrl('in/second.txt');
    expect((await anon.from('drop').uploadToSignedUrl('in/elsewhere.txt', second.data!.token, Buffer.from('x'))).error).toMatchObject({ status: 400 });
    expect((await s.from('drop').exists('in/elsewhere.txt')).data).toBe(false);
  });

  it('serves public buckets keyless at /object/public and never a private bucket there', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('pub', { public: true });
    await s.createBucket('priv');
    await s.from('pub').upload('logo.txt', Buffer.from('public bytes'));
    await s.from('priv').upload('logo.txt', Buffer.from('private bytes'));
    const pub = await fetch(s.from('pub').getPublicUrl('logo.txt').data.publicUrl);
    expect(pub.status).toBe(200);
    expect(await pub.text()).toBe('public bytes');
    expect((await fetch(s.from('priv').getPublicUrl('logo.txt').data.publicUrl)).status).toBe(404);
    // Without rules, the publishable key reads nothing from a private bucket.
    expect((await supabase(t, p.ref, p.publishable).storage.from('priv').download('logo.txt')).error).toMatchObject({ status: 404 });
  });

  it('answers HTTP as a file server: Range 206/416, ETag 304, Last-Modified, nosniff, attachment for active types', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('http');
    await s.from('http').upload('page.html', Buffer.from('<script>alert(1)</script>'), { contentType: 'text/html' });
    await s.from('http').upload('n.txt', Buffer.from('0123456789'));
    const h = { apikey: p.secret };
    const full = await fetch(url('/object/http/n.txt'), { headers: h });
    const etag = full.headers.get('etag')!;
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(full.headers.get('last-modified')).toBeTruthy();
    expect(full.headers.get('cache-control')).toBe('max-age=3600');
    const part = await fetch(url('/object/http/n.txt'), { headers: { ...h, range: 'bytes=2-4' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 2-4/10');
    expect(await part.text()).toBe('234');
    expect(await (await fetch(url('/object/http/n.txt'), { headers: { ...h, range: 'bytes=-3' } })).text()).toBe('789');
    expect((await fetch(url('/object/http/n.txt'), { headers: { ...h, range: 'bytes=20-' } })).status).toBe(416);
    expect((await fetch(url('/object/http/n.txt'), { headers: { ...h, 'if-none-match': etag } })).status).toBe(304);
    const html = await fetch(url('/object/authenticated/http/page.html'), { headers: h });
    expect(html.headers.get('content-type')).toBe('text/html');
    expect(html.headers.get('content-disposition')).toMatch(/^attachment/);
    const head = await fetch(url('/object/http/n.txt'), { method: 'HEAD', headers: h });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
  });

  it('resumes a TUS upload (tus-js-client) cut off part way, and commits the object only once complete', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('big');
    const data = Buffer.from(Array.from({ length: 1536 * 1024 }, (_, i) => (i * 7) % 256));
    const opts = {
      endpoint: url('/upload/resumable'),
      chunkSize: 256 * 1024,
      retryDelays: [],
      headers: { apikey: p.secret, 'x-upsert': 'false' },
      metadata: { bucketName: 'big', objectName: 'video/clip.bin', contentType: 'video/mp4', cacheControl: '60' },
    };
    let uploadUrl = '';
    await new Promise<void>((resolve, reject) => {
      const up: tus.Upload = new tus.Upload(data, {
        ...opts,
        onChunkComplete: (_chunk, sent) => {
          // Cut the connection while the next chunk is on its way.
          if (sent >= 512 * 1024 && !uploadUrl) {
            uploadUrl = up.url!;
            setTimeout(() => void up.abort().then(resolve, reject), 5);
          }
        },
        onError: reject,
        onSuccess: () => reject(new Error('the first attempt was meant to be cut off')),
      });
      up.start();
    });
    const head = await fetch(uploadUrl, { method: 'HEAD', headers: { apikey: p.secret, 'tus-resumable': '1.0.0' } });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(512 * 1024);
    expect(offset).toBeLessThan(data.length);
    expect((await s.from('big').exists('video/clip.bin')).data).toBe(false);
    // Only the key that created it sees it: not the project's publishable key, nor another project's key.
    expect((await fetch(uploadUrl, { method: 'HEAD', headers: { apikey: p.publishable } })).status).toBe(404);
    const stranger = await createProject(t, await signup(t, 'tus-stranger'), 'tus-stranger');
    expect((await fetch(uploadUrl, { method: 'HEAD', headers: { apikey: stranger.secret } })).status).toBe(401);
    expect((await fetch(uploadUrl.replace(`/p/${p.ref}/`, `/p/${stranger.ref}/`), { method: 'HEAD', headers: { apikey: stranger.secret } })).status).toBe(404);

    let resumedFrom = -1;
    await new Promise<void>((resolve, reject) => {
      const up = new tus.Upload(data, { ...opts, uploadUrl, onError: reject, onSuccess: () => resolve(), onProgress: (sent) => (resumedFrom = resumedFrom < 0 ? sent : resumedFrom) });
      up.start();
    });
    expect(resumedFrom).toBeGreaterThanOrEqual(offset);
    const down = await s.from('big').download('video/clip.bin');
    expect(Buffer.from(await down.data!.arrayBuffer()).equals(data)).toBe(true);
    expect((await s.from('big').info('video/clip.bin')).data).toMatchObject({ size: data.length, contentType: 'video/mp4', cacheControl: 'max-age=60' });
    expect((await keysOf(backend, p.ref)).filter((k) => k.includes('/_uploads/'))).toEqual([]);
    expect((await fetch(uploadUrl, { method: 'HEAD', headers: { apikey: p.secret } })).status).toBe(404);
  });

  it('refuses a TUS upload over the bucket limit at creation, and an expired one afterwards', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('tus-small', { public: false, fileSizeLimit: 1000 });
    const meta = (name: string) => `bucketName ${Buffer.from('tus-small').toString('base64')},objectName ${Buffer.from(name).toString('base64')}`;
    const create = (length: number, name: string) =>
      fetch(url('/upload/resumable'), { method: 'POST', headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': meta(name) } });
    expect((await create(1001, 'big.bin')).status).toBe(413);
    const ok = await create(10, 'small.bin');
    expect(ok.status).toBe(201);
    const location = `${t.baseUrl}${ok.headers.get('location')}`;
    const patch = (offset: number, body: string) =>
      fetch(location, { method: 'PATCH', headers: { apikey: p.secret, 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' }, body });
    expect((await patch(3, 'abc')).status).toBe(409);
    const first = await patch(0, 'abcde');
    expect([first.status, first.headers.get('upload-offset')]).toEqual([204, '5']);
    t.clock.travel(25 * 3600_000);
    try {
      expect((await patch(5, 'fghij')).status).toBe(404);
    } finally {
      t.clock.travel(-25 * 3600_000);
    }
    expect((await s.from('tus-small').exists('small.bin')).data).toBe(false);
  });

  it('renders images with sharp (size, fit, format), caches the result, and refuses what it must not render', async () => {
    const s = supabase(t, p.ref, p.secret).storage;
    await s.createBucket('img', { public: true });
    const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 20, b: 20 } } }).png().toBuffer();
    await s.from('img').upload('red.png', png, { contentType: 'image/png' });
    await s.from('img').upload('note.txt', Buffer.from('not an image'));
    const publicUrl = s.from('img').getPublicUrl('red.png', { transform: { width: 100, height: 100, resize: 'cover' } }).data.publicUrl;
    const first = await fetch(`${publicUrl}&format=webp`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    expect(first.headers.get('x-render-cache')).toBe('MISS');
    expect(await sharp(Buffer.from(await first.arrayBuffer())).metadata()).toMatchObject({ width: 100, height: 100, format: 'webp' });
    const again = await fetch(`${publicUrl}&format=webp`);
    expect(again.headers.get('x-render-cache')).toBe('HIT');
    expect((await keysOf(backend, p.ref)).some((k) => k.startsWith(`${p.ref}/_render/`))).toBe(true);
    const contained = await s.from('img').download('red.png', { transform: { width: 200, height: 50, resize: 'contain' } });
    expect(await sharp(Buffer.from(await contained.data!.arrayBuffer())).metadata()).toMatchObject({ width: 200, height: 50 });
    const base = url('/render/image/public/img/red.png');
    expect((await fetch(`${base}?width=99999`)).status).toBe(400);
    expect((await fetch(`${base}?resize=explode`)).status).toBe(400);
    expect((await fetch(url('/render/image/public/img/note.txt?width=10'))).status).toBe(415);
    // Authenticated renders follow the read rules: the publishable key alone reads nothing from a rule-less bucket.
    expect((await fetch(url('/render/image/authenticated/img/red.png?width=10'), { headers: { apikey: p.publishable } })).status).toBe(404);
  });

  describe('rules, limits and isolation', () => {
    const alice = randomUUID();
    const bob = randomUUID();
    let aliceClient: ReturnType<typeof supabase>;
    let bobClient: ReturnType<typeof supabase>;
    let other: TestProject;
    let otherOwner: TestUser;

    const putBucketRules = async (bucket: string, rules: object[]) => {
      const res = await t.http().put(`/v1/projects/${p.ref}/buckets/${bucket}/rules`).set(u.auth).send(rules);
      expect(res.status).toBe(200);
    };

    beforeAll(async () => {
      aliceClient = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, alice));
      bobClient = supabase(t, p.ref, p.publishable, await signUserToken(p.ref, bob));
      otherOwner = await signup(t, 'storage-other');
      other = await createProject(t, otherOwner, 'storage-other');
      const s = supabase(t, p.ref, p.secret).storage;
      await s.createBucket('avatars');
      await putBucketRules('avatars', [
        { role: 'authenticated', action: ['read', 'create', 'update', 'delete'], where: { path: { $startsWith: '$auth.uid/' } } },
        { role: 'anon', action: 'read', where: { mime_type: 'image/png' } },
      ]);
    });

    it('keeps each signed-in user to their own folder ({"path": {"$startsWith": "$auth.uid/"}})', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.from('avatars').upload(`${bob}/secret.txt`, Buffer.from('bob only'));
      const a = aliceClient.storage.from('avatars');
      expect((await a.upload(`${alice}/me.txt`, Buffer.from('alice'))).error).toBeNull();
      expect(await (await a.download(`${alice}/me.txt`)).data!.text()).toBe('alice');
      const intoBob = await a.upload(`${bob}/planted.txt`, Buffer.from('x'));
      expect(intoBob.error).toMatchObject({ status: 403 });
      expect((await admin.from('avatars').exists(`${bob}/planted.txt`)).data).toBe(false);
      expect((await a.download(`${bob}/secret.txt`)).error).toMatchObject({ status: 404 });
      expect((await a.createSignedUrl(`${bob}/secret.txt`, 60)).error).toMatchObject({ status: 404 });
      expect((await a.list()).data!.map((o) => o.name)).toEqual([alice]);
      expect((await a.list(bob)).data).toEqual([]);
      expect((await a.remove([`${bob}/secret.txt`])).data).toEqual([]);
      expect((await a.move(`${alice}/me.txt`, `${bob}/me.txt`)).error).toMatchObject({ status: 403 });
      expect(await (await bobClient.storage.from('avatars').download(`${bob}/secret.txt`)).data!.text()).toBe('bob only');
      expect((await bobClient.storage.from('avatars').download(`${alice}/me.txt`)).error).toMatchObject({ status: 404 });
    });

    it('gives anon only what an anon rule allows, and secret-key-only access to buckets without rules', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.from('avatars').upload('shared/pic.png', Buffer.from('png'), { contentType: 'image/png' });
      await admin.from('avatars').upload('shared/doc.txt', Buffer.from('txt'));
      const anon = supabase(t, p.ref, p.publishable).storage;
      expect(await (await anon.from('avatars').download('shared/pic.png')).data!.text()).toBe('png');
      expect((await anon.from('avatars').download('shared/doc.txt')).error).toMatchObject({ status: 404 });
      expect((await anon.from('avatars').upload('shared/new.png', Buffer.from('x'), { contentType: 'image/png' })).error).toMatchObject({ status: 403 });
      await admin.createBucket('norules');
      await admin.from('norules').upload('f.txt', Buffer.from('x'));
      expect((await aliceClient.storage.from('norules').download('f.txt')).error).toMatchObject({ status: 404 });
      expect((await aliceClient.storage.from('norules').upload(`${alice}/f.txt`, Buffer.from('x'))).error).toMatchObject({ status: 403 });
      expect((await anon.createBucket('mine')).error).toMatchObject({ status: 403 });
      expect((await anon.listBuckets()).error).toMatchObject({ status: 403 });
    });

    it('judges owner_id and size conditions on the object being written', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('owned');
      await putBucketRules('owned', [
        { role: 'authenticated', action: 'read', where: { owner_id: '$auth.uid' } },
        { role: 'authenticated', action: 'create', where: { size: { $lte: 10 } } },
      ]);
      expect((await aliceClient.storage.from('owned').upload('a.txt', Buffer.from('0123456789'))).error).toBeNull();
      expect(await (await aliceClient.storage.from('owned').download('a.txt')).data!.text()).toBe('0123456789');
      expect((await bobClient.storage.from('owned').download('a.txt')).error).toMatchObject({ status: 404 });
      const keys = await keysOf(backend, p.ref);
      expect((await aliceClient.storage.from('owned').upload('big.txt', Buffer.from('0123456789A'))).error).toMatchObject({ status: 403 });
      expect((await admin.from('owned').exists('big.txt')).data).toBe(false);
      expect(await keysOf(backend, p.ref)).toEqual(keys);
    });

    it('enforces bucket size limits (413, while streaming too) and allowed types (415), storing nothing', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('small', { public: false, fileSizeLimit: 100, allowedMimeTypes: ['image/*', 'text/plain'] });
      const keys = await keysOf(backend, p.ref);
      const big = await admin.from('small').upload('big.bin', Buffer.alloc(101), { contentType: 'image/png' });
      expect(big.error).toMatchObject({ status: 413, statusCode: '413' });
      // No Content-Length: the limit is found while the bytes stream.
      const chunked = await rawUpload(t.baseUrl, `/p/${p.ref}/storage/v1/object/small/chunked.png`, { apikey: p.secret, 'content-type': 'image/png', 'transfer-encoding': 'chunked' }, [Buffer.alloc(60), Buffer.alloc(60)]);
      expect(chunked).toMatchObject({ status: 413 });
      const wrongType = await admin.from('small').upload('x.json', Buffer.from('{}'), { contentType: 'application/json' });
      expect(wrongType.error).toMatchObject({ status: 415 });
      expect((await admin.from('small').upload('ok.png', Buffer.alloc(100), { contentType: 'image/png' })).error).toBeNull();
      expect((await admin.from('small').upload('ok.txt', Buffer.alloc(5), { contentType: 'text/plain' })).error).toBeNull();
      expect((await admin.from('small').list()).data!.map((o) => o.name)).toEqual(['ok.png', 'ok.txt']);
      expect((await keysOf(backend, p.ref)).length).toBe(keys.length + 2);
      // Over the plan's max_upload_bytes (50 MiB on the free plan) is refused before any byte is read.
      await admin.createBucket('nolimit');
      const huge = await rawUpload(t.baseUrl, `/p/${p.ref}/storage/v1/object/nolimit/huge.bin`, { apikey: p.secret, 'content-type': 'application/octet-stream', 'content-length': String(60 * 1024 * 1024) }, []);
      expect(huge).toMatchObject({ status: 413 });
    });

    it('refuses uploads with 402 once the stored-bytes cap is reached', async () => {
      const owner = await signup(t, 'storage-quota');
      const target = await createProject(t, owner, 'storage-quota');
      const admin = supabase(t, target.ref, target.secret).storage;
      await admin.createBucket('q');
      const res = await t.http().put(`/v1/projects/${target.ref}/limits`).set(owner.auth).send({ meter_caps: { file_bytes: 50 } });
      expect(res.status).toBe(200);
      expect((await admin.from('q').upload('a.bin', Buffer.alloc(40))).error).toBeNull();
      const over = await admin.from('q').upload('b.bin', Buffer.alloc(20));
      expect(over.error).toMatchObject({ status: 402 });
      expect((await admin.from('q').exists('b.bin')).data).toBe(false);
    });

    it('refuses hostile paths and headers with 400 and stores nothing', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('hostile');
      const keys = await keysOf(backend, p.ref);
      const h = { apikey: p.secret, 'content-type': 'text/plain' };
      for (const path of ['a/../b.txt', 'a/%2e%2e/b.txt', '%2e%2e/x', 'a%00b.txt', 'a%5Cb.txt', 'a//b.txt', 'a/./b', `${'x'.repeat(1025)}`, '%2Fetc%2Fpasswd']) {
        // node:http sends the path as written (fetch would resolve `..` before sending it).
        const res = await rawUpload(t.baseUrl, `/p/${p.ref}/storage/v1/object/hostile/${path}`, h, [Buffer.from('x')]);
        expect(res !== 'aborted' && [path, res.status, JSON.parse(res.body).statusCode]).toEqual([path, 400, '400']);
      }
      for (const bucket of ['..', '%2e%2e', 'a%2Fb', 'a%00']) {
        const res = await rawUpload(t.baseUrl, `/p/${p.ref}/storage/v1/object/${bucket}/x.txt`, h, [Buffer.from('x')]);
        expect(res !== 'aborted' && [bucket, res.status]).toEqual([bucket, 400]);
      }
      const badType = await fetch(url('/object/hostile/t.txt'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'text/html\u0001' }, body: 'x' }).catch(() => null);
      if (badType) expect(badType.status).toBe(400);
      const badMeta = await fetch(url('/object/hostile/m.txt'), { method: 'POST', headers: { ...h, 'x-metadata': 'not base64 json' }, body: 'x' });
      expect(badMeta.status).toBe(400);
      const badMultipart = await fetch(url('/object/hostile/mp.txt'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'multipart/form-data; boundary=zzz' }, body: '--zzz\r\nbroken' });
      expect(badMultipart.status).toBe(400);
      const badMove = await fetch(url('/object/move'), { method: 'POST', headers: { apikey: p.secret, 'content-type': 'application/json' }, body: JSON.stringify({ bucketId: 'hostile', sourceKey: 'a', destinationKey: '../../etc' }) });
      expect(badMove.status).toBe(400);
      expect(await keysOf(backend, p.ref)).toEqual(keys);
      expect((await admin.from('hostile').list()).data).toEqual([]);
    });

    it("never lets project B's keys, signed URLs or paths reach project A's objects", async () => {
      const a = supabase(t, p.ref, p.secret).storage;
      await a.createBucket('iso');
      await a.from('iso').upload('secret.txt', Buffer.from('A secret'));
      const b = supabase(t, other.ref, other.secret).storage;
      await b.createBucket('iso');
      await b.from('iso').upload('mine.txt', Buffer.from('B file'));
      // B's secret key on A's address: the same 401 as any unknown key.
      const crossKey = await fetch(url('/object/iso/secret.txt'), { headers: { apikey: other.secret } });
      expect(crossKey.status).toBe(401);
      expect(((await crossKey.json()) as { statusCode: string }).statusCode).toBe('401');
      // B, with its own key, under the same bucket and path names, sees its own bucket only.
      expect((await b.from('iso').download('secret.txt')).error).toMatchObject({ status: 404 });
      expect((await b.from('iso').list()).data!.map((o) => o.name)).toEqual(['mine.txt']);
      // A's signed URL, moved to B's address, is refused (the token names A and is signed with A's key).
      const signed = (await a.from('iso').createSignedUrl('secret.txt', 60)).data!.signedUrl;
      const onB = signed.replace(`/p/${p.ref}/`, `/p/${other.ref}/`);
      expect((await fetch(onB)).status).toBe(400);
      const bSigned = (await b.from('iso').createSignedUrl('mine.txt', 60)).data!.signedUrl;
      const token = new URL(bSigned).searchParams.get('token')!;
      expect((await fetch(url(`/object/sign/iso/mine.txt?token=${token}`))).status).toBe(400);
      // A signed upload URL of B can't write into A.
      const up = (await b.from('iso').createSignedUploadUrl('drop.txt')).data!.token;
      expect((await supabase(t, p.ref, p.publishable).storage.from('iso').uploadToSignedUrl('drop.txt', up, Buffer.from('x'))).error).toMatchObject({ status: 400 });
      expect((await a.from('iso').exists('drop.txt')).data).toBe(false);
      // Byte keys are per project: B's keys all sit under B's ref.
      expect((await keysOf(backend, other.ref)).every((k) => k.startsWith(`${other.ref}/iso/`))).toBe(true);
    });

    it("holds a restricted key to its buckets (route target and request bodies) and to read-only", async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('rk_in');
      await admin.createBucket('rk_out');
      await admin.from('rk_out').upload('x.txt', Buffer.from('out'));
      const make = async (body: object) => {
        const res = await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'restricted', name: 'rk', ...body });
        expect(res.status).toBe(201);
        return res.body.key as string;
      };
      const rk = supabase(t, p.ref, await make({ scopes: ['storage:*'], buckets: ['rk_in'] })).storage;
      expect((await rk.from('rk_in').upload('a.txt', Buffer.from('in'))).error).toBeNull();
      expect(await (await rk.from('rk_in').download('a.txt')).data!.text()).toBe('in');
      expect((await rk.from('rk_out').download('x.txt')).error).toMatchObject({ status: 403 });
      expect((await rk.from('rk_out').upload('y.txt', Buffer.from('x'))).error).toMatchObject({ status: 403 });
      // Buckets named in a body, which the edge can't see, are checked too.
      expect((await rk.from('rk_in').copy('a.txt', 'stolen.txt', { destinationBucket: 'rk_out' })).error).toMatchObject({ status: 403 });
      expect((await rk.from('rk_out').move('x.txt', 'moved.txt', { destinationBucket: 'rk_in' })).error).toMatchObject({ status: 403 });
      expect((await rk.listBuckets()).data!.map((b) => b.id)).toEqual(['rk_in']);
      const ro = supabase(t, p.ref, await make({ scopes: ['storage:*'], read_only: true })).storage;
      expect(await (await ro.from('rk_out').download('x.txt')).data!.text()).toBe('out');
      expect((await ro.from('rk_out').upload('z.txt', Buffer.from('x'))).error).toMatchObject({ status: 403 });
      expect((await admin.from('rk_out').exists('z.txt')).data).toBe(false);
    });

    it('keeps storage tables out of reach of the data role', async () => {
      const role = `t_${p.ref}_data`;
      await expect(t.sql.query(`BEGIN; SET LOCAL ROLE ${role}; SELECT * FROM t_${p.ref}._storage_objects`)).rejects.toThrow(/permission denied/);
      await t.sql.query('ROLLBACK');
      const rest = await fetch(`${t.baseUrl}/p/${p.ref}/rest/v1/_storage_objects`, { headers: { apikey: p.secret } });
      expect(rest.status).toBe(404);
    });

    it('leaves no object and no bytes behind when the client drops an upload half way', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('abort');
      const keys = await keysOf(backend, p.ref);
      const r = await rawUpload(t.baseUrl, `/p/${p.ref}/storage/v1/object/abort/half.bin`, { apikey: p.secret, 'content-type': 'application/octet-stream', 'content-length': String(4 * 1024 * 1024) }, [Buffer.alloc(1024 * 1024)], true);
      expect(r).toBe('aborted');
      await sleep(500);
      expect((await admin.from('abort').exists('half.bin')).data).toBe(false);
      expect(await keysOf(backend, p.ref)).toEqual(keys);
    });

    it('manages buckets and rules on the management API with a console user or the secret key only', async () => {
      const http = t.http();
      const created = await http.post(`/v1/projects/${p.ref}/buckets`).set(u.auth).send({ id: 'managed', public: false, file_size_limit: '2MB' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: 'managed', file_size_limit: 2 * 1024 * 1024, rules: [] });
      const listed = await t.http().get(`/v1/projects/${p.ref}/buckets`).set({ apikey: p.secret });
      expect(listed.status).toBe(200);
      expect(listed.body.map((b: { id: string }) => b.id)).toContain('managed');
      expect((await t.http().get(`/v1/projects/${p.ref}/buckets`).set({ apikey: p.publishable })).status).toBe(401);
      expect((await t.http().get(`/v1/projects/${p.ref}/buckets`).set({ apikey: other.secret })).status).toBe(401);
      const patched = await t.http().patch(`/v1/projects/${p.ref}/buckets/managed`).set(u.auth).send({ public: true });
      expect(patched.body).toMatchObject({ public: true });
      const badRules = await t.http().put(`/v1/projects/${p.ref}/buckets/managed/rules`).set(u.auth).send([{ role: 'anon', action: 'read', where: { secret_column: 1 } }]);
      expect(badRules.status).toBe(400);
      expect((await t.http().delete(`/v1/projects/${p.ref}/buckets/managed`).set(u.auth)).status).toBe(204);
      const gone = await t.http().get(`/v1/projects/${p.ref}/buckets/managed`).set(u.auth);
      expect([gone.status, gone.body.error?.code]).toEqual([404, 'not_found']);
      const dup = await t.http().post(`/v1/projects/${p.ref}/buckets`).set(u.auth).send({ id: 'avatars' });
      expect([dup.status, dup.body.error?.code]).toEqual([409, 'conflict']);
      const bad = await t.http().post(`/v1/projects/${p.ref}/buckets`).set(u.auth).send({ id: '../x' });
      expect([bad.status, bad.body.error?.code]).toEqual([400, 'bad_request']);
    });

    it('meters downloads as egress and samples stored bytes as the file_bytes gauge', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('meter');
      await admin.from('meter').upload('m.bin', Buffer.alloc(50_000));
      const metering = t.app.get(MeteringService);
      await metering.flush();
      const egress = async () =>
        Number((await t.sql.query(`SELECT coalesce(sum(quantity), 0) AS q FROM control.usage_minute WHERE project_id = $1 AND meter = 'egress_bytes'`, [p.id])).rows[0].q);
      const before = await egress();
      await admin.from('meter').download('m.bin');
      // The response is counted when Node reports it finished, just after the client has the last byte.
      await sleep(200);
      await metering.flush();
      expect((await egress()) - before).toBeGreaterThanOrEqual(50_000);
      await t.app.get(SampleStorageJob).run();
      const sample = await t.sql.query(`SELECT value FROM control.usage_samples WHERE project_id = $1 AND meter = 'file_bytes'`, [p.id]);
      const stored = await t.sql.query(`SELECT sum(size)::float8 AS s FROM t_${p.ref}._storage_objects`);
      expect(Number(sample.rows[0].value)).toBe(Number(stored.rows[0].s));
    });

    it('sweeps what a crash left (bytes never committed, replaced bytes never deleted) from pending rows, never listing the backend', async () => {
      const admin = supabase(t, p.ref, p.secret).storage;
      await admin.createBucket('sweep');
      await admin.from('sweep').upload('kept.txt', Buffer.from('kept'));
      const { Readable } = await import('node:stream');
      const project = (await t.app.get(ProjectDirectory).find(p.ref))!;
      // A crash after the bytes were written, before the commit: reserved and written, never committed.
      const orphan = `${p.ref}/sweep/${randomUUID()}`;
      await t.app.get(StorageService).reserve(project, orphan, 6);
      await backend.put(orphan, Readable.from([Buffer.from('orphan')]));
      // A crash after a commit, before the bytes it replaced were deleted.
      const [replacedKey] = (await t.sql.query(`SELECT key FROM t_${p.ref}._storage_objects WHERE bucket_id = 'sweep' AND name = 'kept.txt'`)).rows.map((r) => r.key as string);
      const failDelete = jest.spyOn(backend, 'delete').mockRejectedValueOnce(new Error('crashed'));
      try {
        expect((await admin.from('sweep').upload('kept.txt', Buffer.from('kept2'), { upsert: true })).error).toBeNull();
      } finally {
        failDelete.mockRestore();
      }
      expect(await keysOf(backend, p.ref)).toContain(replacedKey);
      // Bytes nothing recorded (written outside the runtime) are not the sweeper's to find: it never lists.
      const stray = `${p.ref}/sweep/${randomUUID()}`;
      await backend.put(stray, Readable.from([Buffer.from('stray')]));
      const sweeper = t.app.get(SweepOrphanBytesJob);
      const sweep = async () => {
        const listing = jest.spyOn(backend, 'list');
        try {
          await sweeper.sweepProject(project);
          expect(listing).not.toHaveBeenCalled();
        } finally {
          listing.mockRestore();
        }
      };
      await sweep();
      // The replaced bytes are due at once; the uncommitted upload is still within its grace (it may be in flight).
      expect(await keysOf(backend, p.ref)).not.toContain(replacedKey);
      expect(await keysOf(backend, p.ref)).toContain(orphan);
      t.clock.travel(2 * 3600_000);
      try {
        await sweep();
      } finally {
        t.clock.travel(-2 * 3600_000);
      }
      const keys = await keysOf(backend, p.ref);
      expect(keys).not.toContain(orphan);
      expect(keys).toContain(stray);
      expect(await (await admin.from('sweep').download('kept.txt')).data!.text()).toBe('kept2');
      expect((await t.sql.query(`SELECT key FROM t_${p.ref}._storage_pending WHERE key = ANY($1)`, [[orphan, replacedKey]])).rowCount).toBe(0);
      await backend.delete([stray]);
    });

    it("deletes a deleted project's bytes through a job enqueued with the deletion", async () => {
      const owner = await signup(t, 'storage-doomed');
      const target = await createProject(t, owner, 'storage-doomed');
      const s = supabase(t, target.ref, target.secret).storage;
      await s.createBucket('gone');
      await s.from('gone').upload('x.txt', Buffer.from('bye'));
      expect((await keysOf(backend, target.ref)).length).toBeGreaterThan(0);
      expect((await t.http().delete(`/v1/projects/${target.ref}`).set(owner.auth)).status).toBe(204);
      const job = await t.sql.query(`SELECT data FROM control.outbox WHERE name = $1 AND data->>'ref' = $2`, [DELETE_PROJECT_OBJECTS_JOB, target.ref]);
      expect(job.rowCount).toBe(1);
      await t.app.get(DeleteProjectObjectsJob).handle(job.rows[0].data);
      expect(await keysOf(backend, target.ref)).toEqual([]);
    });
  });
});
