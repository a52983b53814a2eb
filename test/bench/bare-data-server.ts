/**
 * The floor for the data benchmark: a bare `node:http` + `pg` server doing what Plinth's data runtime does per
 * request — one transaction on the tenant pool that switches to the project's data role with a statement timeout,
 * the same statement shape (JSON aggregated in SQL, the read rule in the WHERE), COMMIT — and nothing else (no key
 * check, no parsing, no policy, no metering). Run as its own process by data.bench.ts:
 *   BARE_DB_URL=… BARE_SCHEMA=t_x BARE_ROLE=t_x_data BARE_PORT=3951 node -r @swc-node/register test/bench/bare-data-server.ts
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, PoolClient } from 'pg';

const schema = process.env.BARE_SCHEMA!;
const role = process.env.BARE_ROLE!;
const pool = new Pool({ connectionString: process.env.BARE_DB_URL, max: Number(process.env.BARE_POOL_MAX ?? 10) });
const table = `"${schema}"."items"`;
const RULE = `category <> 'hidden'`;

async function tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(`BEGIN; SELECT set_config('role', '${role}', true), set_config('statement_timeout', '5000', true)`);
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => resolve(s));
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname === '/items') {
    const id = url.searchParams.get('id')?.replace(/^eq\./, '');
    const category = url.searchParams.get('category')?.replace(/^eq\./, '');
    const out = await tx(async (c) => {
      const q = id
        ? await c.query(`SELECT coalesce(json_agg(t), '[]')::text AS body FROM (SELECT id, category, name, price FROM ${table} WHERE ${RULE} AND id = $1::int8 LIMIT 1000) t`, [id])
        : await c.query(`SELECT coalesce(json_agg(t), '[]')::text AS body FROM (SELECT id, category, name, price FROM ${table} WHERE ${RULE} AND category = $1::text LIMIT $2::int8) t`, [category, url.searchParams.get('limit') ?? '1000']);
      return q.rows[0].body as string;
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(out);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/items') {
    const row = JSON.parse(await body(req)) as { category: string; name: string; price: number };
    await tx((c) => c.query(`INSERT INTO ${table} (category, name, price) VALUES ($1, $2, $3) `, [row.category, row.name, row.price]));
    res.writeHead(201).end();
    return;
  }
  res.writeHead(404).end();
}

createServer((req, res) => {
  handle(req, res).catch((e) => res.writeHead(500).end(String(e)));
}).listen(Number(process.env.BARE_PORT ?? 3951), '127.0.0.1', () => process.send?.('ready'));
