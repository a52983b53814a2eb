/**
 * The floor for the data benchmark: a bare `node:http` + `pg` server doing what Plinth's data runtime does per
 * request — one transaction on the tenant pool that switches to the project's data role with a statement timeout,
 * the same statements (JSON aggregated in SQL, the read rule in the WHERE; the insert as a CTE that counts and
 * checks the new rows), prepared per connection, then COMMIT, the three written together in one socket write as
 * Plinth does — and nothing else (no key check, no query parsing, no policy, no metering). Run as its own process
 * by data.bench.ts:
 *   BARE_DB_URL=… BARE_SCHEMA=t_x BARE_ROLE=t_x_data BARE_PORT=3951 node -r @swc-node/register test/bench/bare-data-server.ts
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'pg';

const schema = process.env.BARE_SCHEMA!;
const role = process.env.BARE_ROLE!;
const pool = new Pool({ connectionString: process.env.BARE_DB_URL, max: Number(process.env.BARE_POOL_MAX ?? 10), pipeline: true });
const table = `"${schema}"."items"`;

/**
 * The statements Plinth's data runtime generates for these requests (the issue asks for the same statements), as
 * printed by its planner for this table and rule, each a named statement prepared once per connection as Plinth's
 * tenant executor does.
 */
const READ = (filter: string): string =>
  `SELECT coalesce(json_agg(_p.j), '[]'::json)::text AS body, count(_p.j)::int AS n, NULL::int8 AS total FROM (SELECT json_build_object($3::text, t0."id", $4::text, t0."category", $5::text, t0."name", $6::text, t0."price") AS j FROM ${table} AS t0 WHERE ((t0."category" IS DISTINCT FROM $1::text) AND (${filter})) LIMIT $7::int8 OFFSET $8::int8) AS _p`;
const BY_ID = { name: 'bare_by_id', text: READ(`t0."id" = $2::int8`) };
const BY_CATEGORY = { name: 'bare_by_category', text: READ(`t0."category" = $2::text`) };
const INSERT = {
  name: 'bare_insert',
  text: `WITH pgrst_mut AS (INSERT INTO ${table} AS t_conflict ("category", "name", "price") SELECT r."category", r."name", r."price" FROM json_to_recordset($1::json) AS r("category" text, "name" text, "price" numeric(10,2)) RETURNING t_conflict.*) SELECT NULL::text AS body, v.n AS n, CASE WHEN v.bad > 0 THEN ('pgrst_policy_violation ' || v.bad)::int ELSE 0 END AS guard FROM (SELECT count(*)::int AS n, 0 AS bad FROM pgrst_mut AS t0) AS v`,
};
const COLUMNS = ['id', 'category', 'name', 'price'];

/**
 * BEGIN with the role switch, the statement and COMMIT written together (the pool pipelines) in one write to the
 * socket (corked), as Plinth does.
 */
async function tx(statement: { name: string; text: string; values: unknown[] }): Promise<string | null> {
  const c = await pool.connect();
  try {
    const socket = (c as unknown as { connection: { stream: NodeJS.WritableStream & { cork(): void; uncork(): void } } }).connection.stream;
    socket.cork();
    const sent = [c.query(`BEGIN; SELECT set_config('role', '${role}', true), set_config('statement_timeout', '5000', true)`), c.query(statement), c.query('COMMIT')];
    socket.uncork();
    const [, r] = await Promise.all(sent);
    return r.rows[0].body as string | null;
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
  // functions.bench.ts's floor for a hello-world function: the same JSON from a bare route.
  if (req.method === 'GET' && url.pathname === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hello: 'world' }));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/items') {
    const id = url.searchParams.get('id')?.replace(/^eq\./, '');
    const category = url.searchParams.get('category')?.replace(/^eq\./, '');
    const out = id
      ? await tx({ ...BY_ID, values: ['hidden', id, ...COLUMNS, '1000', '0'] })
      : await tx({ ...BY_CATEGORY, values: ['hidden', category, ...COLUMNS, url.searchParams.get('limit') ?? '1000', '0'] });
    res.writeHead(200, { 'content-type': 'application/json' }).end(out);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/items') {
    const row = JSON.parse(await body(req)) as { category: string; name: string; price: number };
    await tx({ ...INSERT, values: [JSON.stringify([{ category: row.category, name: row.name, price: row.price }])] });
    res.writeHead(201).end();
    return;
  }
  res.writeHead(404).end();
}

createServer((req, res) => {
  handle(req, res).catch((e) => res.writeHead(500).end(String(e)));
}).listen(Number(process.env.BARE_PORT ?? 3951), '127.0.0.1', () => process.send?.('ready'));
