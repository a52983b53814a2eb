import { Injectable, OnModuleInit } from '@nestjs/common';
import type { AuditActor } from '@plinth/audit';
import { EdgeContext, EdgeRoute, EdgeRuntime, RuntimeRegistry, sendJson, TenantProject } from '@plinth/gateway';
import { bucketId, listPrefix, objectName } from './object-path';
import { serveObject } from './object-http';
import { STORAGE_DIALECT, StorageException } from './storage.exception';
import { ImageRender } from './image-render';
import { renderOptions, transformOptions } from './render-options';
import { ResumableUploads, TUS_EXTENSIONS, TUS_VERSION } from './resumable-uploads';
import { BucketInput, StorageService } from './storage.service';

type Json = Record<string, unknown>;

/** The JSON object body of a request, or 400. */
function jsonBody(c: EdgeContext): Json {
  const b = c.body;
  if (b === undefined) return {};
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw StorageException.invalid('The body must be a JSON object');
  return b as Json;
}

const query = (c: EdgeContext) => new URLSearchParams(c.query);
const flag = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) === 'true';
/** `bucket` and the object name of a `:bucket/*` route, validated. */
const target = (c: EdgeContext): [string, string] => [bucketId(c.params.bucket), objectName(c.params['*'])];
const byBucket: EdgeRoute['target'] = (p) => ({ bucket: p.bucket });

/** The audit log's actor of a tenant API call: the key that made it. */
function actorOf(c: EdgeContext): AuditActor {
  const ua = c.req.headers['user-agent'];
  const requestId = (c.req as { id?: unknown }).id;
  return { type: 'api_key', id: c.tenant.keyId, meta: { ip: c.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null, requestId: typeof requestId === 'string' ? requestId : null } };
}

/** TUS's `Tus-Resumable` precondition: a request naming another protocol version is refused with 412. */
function tusVersion(c: EdgeContext): void {
  c.res.setHeader('tus-resumable', TUS_VERSION);
  const v = c.req.headers['tus-resumable'];
  if (v !== undefined && v !== TUS_VERSION) {
    c.res.setHeader('tus-version', TUS_VERSION);
    throw new StorageException(412, 'PreconditionFailed', 'precondition_failed', `Tus-Resumable ${TUS_VERSION} is the version served`);
  }
}

function int(v: unknown, name: string, min: number, max: number, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw StorageException.invalid(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

const SORT_COLUMNS = ['name', 'created_at', 'updated_at', 'last_accessed_at'] as const;

/**
 * Supabase Storage at `/p/:ref/storage/v1`, as supabase-js `storage` calls it: buckets, objects (uploads streamed
 * with the edge's `stream` body mode), listing, move and copy, signed download and upload URLs, and keyless routes
 * for public buckets and signed URLs. Each route turns the request into one {@link StorageService} call; errors go
 * out in Storage's dialect.
 */
@Injectable()
export class StorageEdge implements OnModuleInit {
  constructor(
    private readonly runtimes: RuntimeRegistry,
    private readonly storage: StorageService,
    private readonly resumable: ResumableUploads,
    private readonly images: ImageRender,
  ) {}

  onModuleInit(): void {
    this.runtimes.register(this.runtime());
  }

  runtime(): EdgeRuntime {
    const s = this.storage;
    const json = (methods: EdgeRoute['methods'], path: string, body: EdgeRoute['body'], handler: (c: EdgeContext) => Promise<unknown>, extra: Partial<EdgeRoute> = {}): EdgeRoute => ({
      methods,
      path,
      body,
      ...extra,
      handler: async (c) => sendJson(c.res, 200, await handler(c)),
    });
    /** A change to one bucket: its id from the path, a managing key, the change (audited), Storage's message. */
    const manage = (methods: EdgeRoute['methods'], path: string, message: string, change: (project: TenantProject, actor: AuditActor, id: string, c: EdgeContext) => Promise<void>) =>
      json(methods, path, 'json', async (c) => {
        const id = bucketId(c.params.bucket);
        s.assertManager(c.tenant, id);
        await change(c.tenant.project, actorOf(c), id, c);
        return { message };
      }, { target: byBucket });
    const download = (c: EdgeContext) => query(c).get('download') ?? undefined;
    return {
      name: 'storage',
      dialect: STORAGE_DIALECT,
      routes: [
        json(['GET'], '/bucket', 'none', (c) => s.listBuckets(c.tenant)),
        json(['POST'], '/bucket', 'json', async (c) => {
          s.assertManager(c.tenant);
          const b = jsonBody(c) as BucketInput;
          const id = bucketId(b.id ?? b.name);
          s.assertManager(c.tenant, id);
          return s.createBucket(c.tenant.project, actorOf(c), { ...b, id }, null);
        }),
        json(['GET'], '/bucket/:bucket', 'none', (c) => s.getBucket(c.tenant, bucketId(c.params.bucket)), { target: byBucket }),
        manage(['PUT'], '/bucket/:bucket', 'Successfully updated', (project, actor, id, c) => s.updateBucket(project, actor, id, jsonBody(c) as BucketInput)),
        manage(['POST'], '/bucket/:bucket/empty', 'Successfully emptied', (project, actor, id) => s.emptyBucket(project, actor, id)),
        manage(['DELETE'], '/bucket/:bucket', 'Successfully deleted', (project, actor, id) => s.deleteBucket(project, actor, id)),

        json(['POST'], '/object/list/:bucket', 'json', (c) => {
          const b = jsonBody(c);
          const sortBy = (b.sortBy ?? {}) as Json;
          const column = sortBy.column ?? 'name';
          if (!SORT_COLUMNS.includes(column as never)) throw StorageException.invalid(`sortBy.column must be one of ${SORT_COLUMNS.join(', ')}`);
          const order = String(sortBy.order ?? 'asc').toLowerCase();
          if (order !== 'asc' && order !== 'desc') throw StorageException.invalid('sortBy.order must be asc or desc');
          const search = b.search ?? '';
          if (typeof search !== 'string' || search.length > 1024 || search.includes('/')) throw StorageException.invalid('search must be a name fragment without "/"');
          return s.list(c.tenant, bucketId(c.params.bucket), {
            prefix: listPrefix(b.prefix),
            search,
            limit: int(b.limit, 'limit', 1, 1000, 100),
            offset: int(b.offset, 'offset', 0, 1_000_000, 0),
            sortColumn: column as (typeof SORT_COLUMNS)[number],
            ascending: order === 'asc',
          });
        }, { target: byBucket }),
        json(['POST'], '/object/move', 'json', async (c) => {
          const b = jsonBody(c);
          const from = bucketId(b.bucketId);
          await s.move(c.tenant, { bucket: from, name: objectName(b.sourceKey) }, { bucket: b.destinationBucket ? bucketId(b.destinationBucket) : from, name: objectName(b.destinationKey) });
          return { message: 'Successfully moved' };
        }),
        json(['POST'], '/object/copy', 'json', (c) => {
          const b = jsonBody(c);
          const from = bucketId(b.bucketId);
          const to = { bucket: b.destinationBucket ? bucketId(b.destinationBucket) : from, name: objectName(b.destinationKey) };
          return s.copy(c.tenant, { bucket: from, name: objectName(b.sourceKey) }, to, flag(c.req.headers['x-upsert']));
        }),
        json(['POST'], '/object/sign/:bucket', 'json', (c) => {
          const b = jsonBody(c);
          if (!Array.isArray(b.paths) || b.paths.length === 0 || b.paths.length > 1000) throw StorageException.invalid('paths must be a list of 1-1000 object names');
          return s.signMany(c.tenant, bucketId(c.params.bucket), b.paths.map(objectName), int(b.expiresIn, 'expiresIn', 1, 365 * 86400, 0));
        }, { target: byBucket }),
        json(['POST'], '/object/sign/:bucket/*', 'json', (c) => {
          const [bucket, name] = target(c);
          const b = jsonBody(c);
          return s.sign(c.tenant, bucket, name, int(b.expiresIn, 'expiresIn', 1, 365 * 86400, 0), b.transform === undefined || b.transform === null ? undefined : transformOptions(b.transform));
        }, { target: byBucket }),
        {
          methods: ['GET'],
          path: '/object/sign/:bucket/*',
          body: 'none',
          key: 'optional',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            const o = await s.signedObject(c.tenant.project, bucket, name, query(c).get('token'));
            await serveObject(s.backend, c.req, c.res, o, download(c), s.smallObjects);
          },
        },
        json(['POST'], '/object/upload/sign/:bucket/*', 'json', (c) => {
          const [bucket, name] = target(c);
          return s.signUpload(c.tenant, bucket, name, flag(c.req.headers['x-upsert']));
        }, { target: byBucket }),
        json(['PUT'], '/object/upload/sign/:bucket/*', 'stream', (c) => {
          const [bucket, name] = target(c);
          return s.uploadSigned(c.tenant, bucket, name, query(c).get('token'), c.req);
        }, { key: 'optional', target: byBucket }),
        {
          methods: ['GET'],
          path: '/object/public/:bucket/*',
          body: 'none',
          key: 'optional',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            await serveObject(s.backend, c.req, c.res, await s.publicObject(c.tenant.project, bucket, name), download(c), s.smallObjects);
          },
        },
        {
          methods: ['GET'],
          path: '/object/authenticated/:bucket/*',
          body: 'none',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            await serveObject(s.backend, c.req, c.res, await s.readable(c.tenant, bucket, name), download(c), s.smallObjects);
          },
        },
        json(['GET'], '/object/info/:bucket/*', 'none', (c) => s.info(c.tenant, ...target(c)), { target: byBucket }),
        {
          methods: ['GET'],
          path: '/render/image/public/:bucket/*',
          body: 'none',
          key: 'optional',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            const opts = renderOptions(query(c));
            await this.images.serve(c.tenant.project, await s.publicObject(c.tenant.project, bucket, name), opts, c.req, c.res);
          },
        },
        {
          methods: ['GET'],
          path: '/render/image/authenticated/:bucket/*',
          body: 'none',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            const opts = renderOptions(query(c));
            await this.images.serve(c.tenant.project, await s.readable(c.tenant, bucket, name), opts, c.req, c.res);
          },
        },
        {
          methods: ['GET'],
          path: '/render/image/sign/:bucket/*',
          body: 'none',
          key: 'optional',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            // The transformation is the token's: the URL may repeat it, never change it.
            const q = query(c);
            const { object, options } = await s.signedRender(c.tenant.project, bucket, name, q.get('token'), q);
            await this.images.serve(c.tenant.project, object, options, c.req, c.res);
          },
        },
        {
          // TUS discovery (a bare OPTIONS; a browser's CORS preflight is answered by the edge before routing).
          methods: ['OPTIONS'],
          path: '/upload/resumable',
          body: 'none',
          key: 'optional',
          handler: async (c) => {
            c.res.statusCode = 204;
            c.res.setHeader('tus-resumable', TUS_VERSION);
            c.res.setHeader('tus-version', TUS_VERSION);
            c.res.setHeader('tus-extension', TUS_EXTENSIONS.join(','));
            c.res.setHeader('tus-max-size', String(await this.resumable.maxSize(c.tenant)));
            c.res.end();
          },
        },
        {
          methods: ['POST'],
          path: '/upload/resumable',
          body: 'stream',
          handler: async (c) => {
            tusVersion(c);
            const created = await this.resumable.create(c.tenant, c.req);
            const { id, expiresAt } = created;
            c.res.setHeader('location', `/p/${c.tenant.project.ref}/storage/v1/upload/resumable/${id}`);
            c.res.setHeader('upload-expires', expiresAt.toUTCString());
            // creation-with-upload: a body on the POST is the first chunk.
            const offset = await this.resumable.createWithBody(c.tenant, created, c.req);
            if (offset !== null) c.res.setHeader('upload-offset', String(offset));
            c.res.statusCode = 201;
            c.res.end();
          },
        },
        {
          methods: ['HEAD'],
          path: '/upload/resumable/:id',
          body: 'none',
          handler: async (c) => {
            tusVersion(c);
            const u = await this.resumable.status(c.tenant, c.params.id);
            c.res.setHeader('upload-offset', String(u.offset));
            if (u.length === null) c.res.setHeader('upload-defer-length', '1');
            else c.res.setHeader('upload-length', String(u.length));
            c.res.setHeader('upload-expires', new Date(u.expires_at).toUTCString());
            c.res.setHeader('cache-control', 'no-store');
            c.res.end();
          },
        },
        {
          methods: ['PATCH'],
          path: '/upload/resumable/:id',
          body: 'stream',
          handler: async (c) => {
            tusVersion(c);
            const offset = await this.resumable.append(c.tenant, c.params.id, c.req);
            c.res.statusCode = 204;
            c.res.setHeader('upload-offset', String(offset));
            c.res.end();
          },
        },
        {
          methods: ['DELETE'],
          path: '/upload/resumable/:id',
          body: 'none',
          handler: async (c) => {
            tusVersion(c);
            await this.resumable.terminate(c.tenant, c.params.id);
            c.res.statusCode = 204;
            c.res.end();
          },
        },
        json(['DELETE'], '/object/:bucket', 'json', (c) => {
          const b = jsonBody(c);
          if (!Array.isArray(b.prefixes) || b.prefixes.length === 0 || b.prefixes.length > 1000) throw StorageException.invalid('prefixes must be a list of 1-1000 object names');
          return s.remove(c.tenant, bucketId(c.params.bucket), b.prefixes.map(objectName));
        }, { target: byBucket }),
        json(['POST', 'PUT'], '/object/:bucket/*', 'stream', (c) => {
          const [bucket, name] = target(c);
          // POST creates (x-upsert: true replaces); PUT replaces, as Storage's update does.
          return s.upload(c.tenant, bucket, name, c.req, { upsert: c.method === 'PUT' || flag(c.req.headers['x-upsert']) });
        }, { target: byBucket }),
        {
          methods: ['GET'],
          path: '/object/:bucket/*',
          body: 'none',
          target: byBucket,
          handler: async (c) => {
            const [bucket, name] = target(c);
            await serveObject(s.backend, c.req, c.res, await s.readable(c.tenant, bucket, name), download(c), s.smallObjects);
          },
        },
        json(['DELETE'], '/object/:bucket/*', 'none', async (c) => {
          const [bucket, name] = target(c);
          const removed = await s.remove(c.tenant, bucket, [name]);
          if (!removed.length) throw StorageException.objectNotFound();
          return { message: 'Successfully deleted' };
        }, { target: byBucket }),
      ],
    };
  }
}
