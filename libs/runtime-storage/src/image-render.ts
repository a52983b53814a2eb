import { Inject, Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import sharp from 'sharp';
import type { TenantProject } from '@plinth/gateway';
import { STORAGE_BACKEND, StorageBackend } from './backends/storage-backend';
import { StorageException } from './storage.exception';
import type { RenderOptions } from './render-options';
import { RENDER_MAX_DIMENSION } from './render-options';
import type { ObjectRow } from './storage.repository';
import { StorageService } from './storage.service';

/** Largest source image rendered (bytes), and its largest pixel count (a small file can decode to a huge image). */
export const RENDER_MAX_INPUT_BYTES = 25 * 1024 * 1024;
const RENDER_MAX_INPUT_PIXELS = 50_000_000;
const RENDERABLE = /^image\/(png|jpeg|jpg|webp|avif|gif|tiff)\b/i;

/**
 * Image transformation (`/render/image/…`) with sharp: bounded input (bytes and decoded pixels) and output (each
 * side at most 2500 px), results cached in the backend under `<ref>/_render/<hash of the object's bytes key and
 * the options>` — a new upload has a new bytes key, so a cached rendering is never stale. Cached renderings are
 * recorded as pending keys when written: the orphan sweeper removes them after their grace period, which bounds the
 * cache.
 */
@Injectable()
export class ImageRender {
  constructor(
    @Inject(STORAGE_BACKEND) private readonly backend: StorageBackend,
    private readonly storage: StorageService,
  ) {}

  async serve(project: TenantProject, o: ObjectRow, opts: RenderOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!RENDERABLE.test(o.mime_type)) throw StorageException.mimeType(o.mime_type);
    if (o.size > RENDER_MAX_INPUT_BYTES) throw StorageException.tooLarge(RENDER_MAX_INPUT_BYTES);
    const id = createHash('sha256').update(`${o.key}\n${JSON.stringify(opts)}`).digest('hex').slice(0, 40);
    const cacheKey = `${project.ref}/_render/${id}`;
    const type = opts.format === 'origin' ? o.mime_type : `image/${opts.format}`;
    const etag = `"r-${id}"`;
    res.setHeader('etag', etag);
    res.setHeader('cache-control', o.cache_control);
    res.setHeader('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    let out: Buffer;
    let cached = 'HIT';
    try {
      out = await buffer(await this.backend.get(cacheKey));
    } catch {
      cached = 'MISS';
      out = await this.render(o, opts);
      // Pending before it is written: the sweeper deletes it once its grace has passed, which bounds the cache.
      await this.storage.reserve(project, cacheKey, 0, false, { unchecked: true });
      await this.backend.put(cacheKey, Readable.from([out]));
    }
    res.statusCode = 200;
    res.setHeader('content-type', type);
    res.setHeader('content-length', out.length);
    res.setHeader('x-render-cache', cached);
    res.end(req.method === 'HEAD' ? undefined : out);
  }

  private async render(o: ObjectRow, opts: RenderOptions): Promise<Buffer> {
    const input = await buffer(await this.backend.get(o.key));
    try {
      let img = sharp(input, { limitInputPixels: RENDER_MAX_INPUT_PIXELS, failOn: 'error' }).rotate();
      if (opts.width || opts.height) img = img.resize({ width: opts.width, height: opts.height, fit: opts.resize, withoutEnlargement: false });
      else img = img.resize({ width: RENDER_MAX_DIMENSION, height: RENDER_MAX_DIMENSION, fit: 'inside', withoutEnlargement: true });
      if (opts.format === 'webp') img = img.webp({ quality: opts.quality });
      else if (opts.format === 'avif') img = img.avif({ quality: opts.quality });
      else if (/jpe?g/i.test(o.mime_type)) img = img.jpeg({ quality: opts.quality });
      else if (/webp/i.test(o.mime_type)) img = img.webp({ quality: opts.quality });
      return await img.toBuffer();
    } catch {
      throw StorageException.invalid('The object could not be read as an image, or is too large to render');
    }
  }
}
