import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs';
import { copyFile, mkdir, opendir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, StorageBackend, StoredBytes } from './storage-backend';

const KEY = /^[a-z0-9]{1,64}(\/[A-Za-z0-9_.-]{1,200}){1,4}$/;

/**
 * Object bytes as files under one directory (`STORAGE_DIR`): `<dir>/<key>`. A write goes to `<dir>/.tmp/<uuid>`
 * and is renamed into place once complete (a rename within one file system is atomic), so a reader never sees half
 * a file and an aborted write leaves only a temporary file, removed at once (or by the sweeper after a crash).
 */
export class DiskBackend implements StorageBackend {
  readonly kind = 'disk' as const;
  private readonly tmp: string;
  /** Directories known to exist (see {@link ensureDir}). */
  private readonly dirs = new Set<string>();

  constructor(private readonly dir: string) {
    this.tmp = join(dir, '.tmp');
  }

  async put(key: string, body: Readable): Promise<StoredBytes> {
    const path = this.path(key);
    await this.ensureDir(this.tmp);
    const temp = join(this.tmp, randomUUID());
    const hash = createHash('md5');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(temp, { flags: 'wx' }));
      await this.renameInto(temp, path);
    } catch (e) {
      await rm(temp, { force: true });
      // The temporary directory went away under us: the next write creates it again.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.dirs.delete(this.tmp);
      throw e;
    }
    return { size, md5: hash.digest('hex') };
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.path(key);
    // Opened before answering, so a missing file is an error here rather than in the middle of a response.
    await stat(path);
    return createReadStream(path, range ? { start: range.start, end: range.end, highWaterMark: 256 * 1024 } : { highWaterMark: 256 * 1024 });
  }

  /**
   * Open, one positioned read, close: three calls on the thread pool, and no stream set up for a few KiB. On the
   * callback API: a FileHandle (fs/promises) costs noticeably more per file in CPU (profiled on 4 KiB downloads).
   */
  async read(key: string, start: number, length: number): Promise<Buffer> {
    const path = this.path(key);
    return new Promise((resolve, reject) => {
      fs.open(path, 'r', (err, fd) => {
        if (err) return reject(err);
        const buf = Buffer.allocUnsafe(length);
        const finish = (failure: Error | null) => fs.close(fd, (closeErr) => (failure ?? closeErr ? reject(failure ?? closeErr) : resolve(buf)));
        const next = (filled: number) => {
          if (filled === length) return finish(null);
          fs.read(fd, buf, filled, length - filled, start + filled, (readErr, n) => {
            if (readErr) return finish(readErr);
            if (n === 0) return finish(new Error(`storage key ${key} holds fewer bytes than its metadata says`));
            next(filled + n);
          });
        };
        next(0);
      });
    });
  }

  async copy(from: string, to: string): Promise<void> {
    const target = this.path(to);
    const temp = join(this.tmp, randomUUID());
    await this.ensureDir(this.tmp);
    await copyFile(this.path(from), temp);
    await this.renameInto(temp, target);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.path(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: Date }> {
    const root = join(this.dir, prefix);
    if (!root.startsWith(this.dir + sep)) return;
    yield* this.walk(root);
  }

  private async *walk(dir: string): AsyncIterable<{ key: string; modifiedAt: Date }> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch {
      return;
    }
    for await (const entry of handle) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) yield* this.walk(full);
      else if (entry.isFile()) yield { key: relative(this.dir, full).split(sep).join('/'), modifiedAt: (await stat(full)).mtime };
    }
  }

  /**
   * Creates `dir` once per process rather than on every write (a system call each). Should it be removed later
   * (a project's bytes deleted), the write that finds it missing creates it again ({@link renameInto}).
   */
  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.dirs.size > 10_000) this.dirs.clear();
    this.dirs.add(dir);
  }

  /** Renames the complete temporary file into place, creating the key's directory when it is (no longer) there. */
  private async renameInto(temp: string, path: string): Promise<void> {
    const dir = dirname(path);
    await this.ensureDir(dir);
    try {
      await rename(temp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.dirs.delete(dir);
      this.dirs.delete(this.tmp);
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
      await rename(temp, path);
    }
  }

  /** The file of a key; keys are built by the service, and checked again here so none can leave the directory. */
  private path(key: string): string {
    if (!KEY.test(key) || key.split('/').some((p) => p === '.' || p === '..')) throw new Error(`Refusing storage key ${JSON.stringify(key.slice(0, 80))}`);
    return join(this.dir, key);
  }
}
