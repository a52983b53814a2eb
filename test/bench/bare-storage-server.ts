/**
 * The storage benchmark's floor: node:http streaming request bodies to files (a temporary name, renamed into place)
 * and files back to responses, with no keys, database, metadata or checks. Run by storage.bench.ts:
 *   BARE_DIR=/tmp/x BARE_PORT=3961 node -r @swc-node/register test/bench/bare-storage-server.ts
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { rename, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.env.BARE_DIR!;
mkdirSync(join(dir, 'tmp'), { recursive: true });

const server = createServer((req, res) => {
  const name = (req.url ?? '').split('?')[0].slice('/f/'.length);
  if (!/^[\w.-]{1,100}$/.test(name)) {
    res.statusCode = 404;
    return res.end();
  }
  const path = join(dir, name);
  void (async () => {
    try {
      if (req.method === 'POST' || req.method === 'PUT') {
        const temp = join(dir, 'tmp', randomUUID());
        await pipeline(req, createWriteStream(temp));
        await rename(temp, path);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ Key: name }));
      } else {
        const s = await stat(path);
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-length', s.size);
        await pipeline(createReadStream(path, { highWaterMark: 256 * 1024 }), res);
      }
    } catch {
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    }
  })();
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.BARE_PORT ?? 3961), '127.0.0.1', () => process.send?.('ready'));
