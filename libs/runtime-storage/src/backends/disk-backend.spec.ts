import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DiskBackend } from './disk-backend';

describe('DiskBackend', () => {
  let dir: string;
  let disk: DiskBackend;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plinth-disk-spec-'));
    disk = new DiskBackend(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a small object, or a range of it, in one buffer', async () => {
    await disk.put('ref1/b/v1', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
    expect((await disk.read('ref1/b/v1', 0, 11)).toString()).toBe('hello world');
    expect((await disk.read('ref1/b/v1', 6, 5)).toString()).toBe('world');
  });

  it('refuses to read more bytes than are stored, and keys that are missing or malformed', async () => {
    await disk.put('ref1/b/v1', Readable.from([Buffer.from('short')]));
    await expect(disk.read('ref1/b/v1', 0, 6)).rejects.toThrow(/fewer bytes/);
    await expect(disk.read('ref1/b/missing', 0, 1)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(disk.read('ref1/../../etc/passwd', 0, 1)).rejects.toThrow(/Refusing/);
  });

  it('writes again after its directories were removed under it (they are created once, then remembered)', async () => {
    await disk.put('ref1/b/v1', Readable.from([Buffer.from('one')]));
    rmSync(join(dir, 'ref1'), { recursive: true, force: true });
    await disk.put('ref1/b/v2', Readable.from([Buffer.from('two')]));
    expect((await disk.read('ref1/b/v2', 0, 3)).toString()).toBe('two');
    await disk.put('ref1/b/v3', Readable.from([Buffer.from('three')]));
    // The temporary directory removed: the write that finds it missing fails, and the next creates it again.
    rmSync(join(dir, '.tmp'), { recursive: true, force: true });
    await expect(disk.put('ref1/b/v5', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'ENOENT' });
    await disk.put('ref1/b/v4', Readable.from([Buffer.from('four')]));
    expect((await disk.read('ref1/b/v4', 0, 4)).toString()).toBe('four');
  });
});
