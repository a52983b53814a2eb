import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { STORAGE_BACKEND, StorageBackend } from '@plinth/runtime-storage';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { registerTestTokens, signUserToken, supabase } from '../support/data';
import { startStorage, TestStorage } from '../support/storage';

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
});
