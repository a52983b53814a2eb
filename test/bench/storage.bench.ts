/**
 * Storage runtime throughput and memory: Plinth's `/p/:ref/storage/v1/object/…` on its local-disk backend (secret
 * key, one bucket) against (1) a bare node:http server streaming the same bytes to and from the same disk (the
 * floor, bare-storage-server.ts) and (2) Parse Server's files API with its file-system adapter
 * (parse-files-server.ts). Each server runs in its own process; autocannon and the large transfers run from here.
 *   npm run bench -- test/bench/storage.bench.ts            (embedded Postgres under .plinth/bench)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_bench npm run bench -- test/bench/storage.bench.ts
 * Knobs: BENCH_SECONDS (per load run, default 5), BENCH_CONNECTIONS (default 10), BENCH_LARGE_MIB (default 100).
 * Next to the 4 KiB downloads, a reference that isn't storage: Plinth's REST read of one row by primary key (same
 * key, edge, admission and tenant transaction; no bytes from disk) — the floor of anything served through the
 * shared tenant path, against which the storage download's own cost shows.
 * Targets (issue 15): 4 KiB downloads ≥ 50 % of the floor's req/s and ≥ 2× Parse; 100 MiB throughput ≥ 70 % of the
 * floor; memory flat (the server's RSS during a 100 MiB transfer).
 */
import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { PARSE_APP_ID, PARSE_REST_KEY } from './parse-server';
import { benchDatabaseUrl, post, requireAll2xx, signup, startServer, useBenchPlan } from './support';

interface Target {
  name: string;
  base: string;
  pid: number | null;
  headers: Record<string, string>;
  /** Where an upload of `name` goes (method and path). */
  upload(name: string): { method: 'POST' | 'PUT'; path: string; headers?: Record<string, string> };
  /** Where `name`, as the upload answered it, is downloaded. */
  download(stored: string): string;
  /** The stored name from an upload's JSON answer. */
  storedName(answer: Record<string, unknown>, name: string): string;
}

interface Load {
  rps: number;
  mbps: number;
  p99: number;
  non2xx: number;
}

let uploadSeq = 0;

/** `fresh`: every request uploads to a name of its own (`path` with a counter appended), instead of replacing one. */
function load(t: Target, method: 'GET' | 'POST' | 'PUT', path: string, body: Buffer | undefined, connections: number, duration: number, headers: Record<string, string> = {}, fresh = false): Promise<Load> {
  return new Promise((res, rej) => {
    autocannon(
      {
        url: t.base + path, method, connections, duration, pipelining: 1, headers: { ...t.headers, ...headers, ...(body ? { 'content-type': 'application/octet-stream' } : {}) }, ...(body ? { body } : {}),
        ...(fresh ? { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, path: `${path}-${++uploadSeq}` }) }] } : {}),
      },
      (err, r) => {
        if (err) return rej(err);
        try {
          const bytes = method === 'GET' ? r.throughput.average : (body?.length ?? 0) * r.requests.average;
          res(requireAll2xx(`${t.name} ${method} ${path}`, { rps: r.requests.average, mbps: bytes / 1048576, p99: r.latency.p99, non2xx: r.non2xx }));
        } catch (e) {
          rej(e);
        }
      },
    );
  });
}

function rssMiB(pid: number | null): number {
  if (pid === null) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Runs `fn` while sampling the server's RSS every 20 ms: seconds taken and the peak RSS in MiB. */
async function measured<T>(pid: number | null, fn: () => Promise<T>): Promise<{ value: T; seconds: number; peak: number }> {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  const start = process.hrtime.bigint();
  try {
    const value = await fn();
    return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9, peak };
  } finally {
    clearInterval(timer);
  }
}

/** Streams a file up (one request); the JSON answer. */
function uploadFile(t: Target, name: string, file: string, size: number): Promise<Record<string, unknown>> {
  const u = t.upload(name);
  const url = new URL(t.base + u.path);
  return new Promise((res, rej) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: u.method, headers: { ...t.headers, ...u.headers, 'content-type': 'application/octet-stream', 'content-length': String(size) } }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => ((r.statusCode ?? 0) >= 300 ? rej(new Error(`${t.name} upload: ${r.statusCode} ${text}`)) : res(JSON.parse(text) as Record<string, unknown>)));
    });
    req.on('error', rej);
    pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), req).catch(rej);
  });
}

/** Streams a download to nowhere; the byte count. */
function downloadAll(t: Target, path: string): Promise<number> {
  const url = new URL(t.base + path);
  return new Promise((res, rej) => {
    request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers: t.headers }, (r) => {
      if ((r.statusCode ?? 0) !== 200) return rej(new Error(`${t.name} download: ${r.statusCode}`));
      let n = 0;
      r.on('data', (c: Buffer) => (n += c.length));
      r.on('end', () => res(n));
      r.on('error', rej);
    })
      .on('error', rej)
      .end();
  });
}

function startChild(file: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(resolve(__dirname, file), [], { execArgv: ['-r', '@swc-node/register'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.once('message', () => res(child));
    child.once('exit', (code) => rej(new Error(`${file} exited ${code}`)));
  });
}

async function parseDatabase(controlUrl: string): Promise<string> {
  const url = new URL(controlUrl);
  const name = `${url.pathname.slice(1) || 'postgres'}_parse_files`;
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
  const largeMiB = Number(process.env.BENCH_LARGE_MIB ?? 100);
  const work = mkdtempSync(join(tmpdir(), 'plinth-storage-bench-'));
  const controlUrl = benchDatabaseUrl();
  const server = await startServer(4760, { STORAGE_DIR: join(work, 'plinth'), STORAGE_MAX_UPLOAD_BYTES: String(1024 * 1048576) });
  let bare: ChildProcess | undefined;
  let parse: ChildProcess | undefined;
  try {
    const { token, orgId } = await signup(server.base);
    await useBenchPlan(controlUrl, orgId);
    const p = await post<{ ref: string; keys: { secret: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'storage bench' }, token);
    const sk = p.keys.secret;
    const bucket = await fetch(`${server.base}/p/${p.ref}/storage/v1/bucket`, { method: 'POST', headers: { apikey: sk, 'content-type': 'application/json' }, body: '{"id":"bench"}' });
    if (!bucket.ok) throw new Error(`bucket: ${bucket.status} ${await bucket.text()}`);
    const table = await fetch(`${server.base}/v1/projects/${p.ref}/tables`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'refrow', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'data', type: 'text' }] }),
    });
    if (!table.ok) throw new Error(`table: ${table.status} ${await table.text()}`);
    const row = await fetch(`${server.base}/p/${p.ref}/rest/v1/refrow`, { method: 'POST', headers: { apikey: sk, 'content-type': 'application/json' }, body: JSON.stringify({ id: 1, data: 'x'.repeat(100) }) });
    if (row.status !== 201) throw new Error(`row: ${row.status} ${await row.text()}`);
    bare = await startChild('bare-storage-server.ts', { BARE_DIR: join(work, 'bare'), BARE_PORT: '4761' });
    parse = await startChild('parse-files-server.ts', { PARSE_DB_URL: await parseDatabase(controlUrl), PARSE_PORT: '4762', PARSE_FILES_DIR: work, PARSE_LOGS: join(work, 'parse-logs'), PARSE_SERVER_LOGS_FOLDER: join(work, 'parse-logs') });

    const targets: Target[] = [
      {
        name: 'bare',
        base: 'http://127.0.0.1:4761',
        pid: bare.pid ?? null,
        headers: {},
        upload: (name) => ({ method: 'PUT', path: `/f/${name}` }),
        download: (stored) => `/f/${stored}`,
        storedName: (_a, name) => name,
      },
      {
        name: 'plinth',
        base: server.base,
        pid: server.pid,
        headers: { apikey: sk },
        upload: (name) => ({ method: 'POST', path: `/p/${p.ref}/storage/v1/object/bench/${name}`, headers: { 'x-upsert': 'true' } }),
        download: (stored) => `/p/${p.ref}/storage/v1/object/bench/${stored}`,
        storedName: (_a, name) => name,
      },
      {
        name: 'parse',
        base: 'http://127.0.0.1:4762',
        pid: parse.pid ?? null,
        headers: { 'x-parse-application-id': PARSE_APP_ID, 'x-parse-rest-api-key': PARSE_REST_KEY },
        upload: (name) => ({ method: 'POST', path: `/parse/files/${name}` }),
        download: (stored) => `/parse/files/${PARSE_APP_ID}/${stored}`,
        storedName: (a) => String(a.name),
      },
    ];

    /** The reference: a one-row REST read on the same server (downloads of 4 KiB only). */
    const rest: Target = { ...targets[1], name: 'plinth-rest', download: () => `/p/${p.ref}/rest/v1/refrow?id=eq.1` };
    const sizes = [
      { label: '4 KiB', name: 'small.bin', bytes: 4096 },
      { label: '1 MiB', name: 'medium.bin', bytes: 1048576 },
    ];
    const stored = new Map<string, string>();
    for (const s of sizes) {
      const file = join(work, s.name);
      writeFileSync(file, Buffer.alloc(s.bytes, 7));
      for (const t of targets) stored.set(`${t.name}:${s.name}`, t.storedName(await uploadFile(t, s.name, file, s.bytes), s.name));
    }
    // Warm-up: JIT, pools, caches.
    await load(rest, 'GET', rest.download(''), undefined, connections, 2);
    for (const t of targets) {
      await load(t, 'GET', t.download(stored.get(`${t.name}:small.bin`)!), undefined, connections, 2);
      const u = t.upload('small.bin');
      await load(t, u.method, u.path, Buffer.alloc(4096, 1), connections, 2, u.headers);
    }

    console.log(`\nStorage, ${duration}s per load run, ${connections} connections, autocannon in this process; each figure the mean of 2 runs in mirrored order`);
    console.log('size    op        server        req/s      MiB/s   p99 ms');
    for (const s of sizes) {
      const body = Buffer.alloc(s.bytes, 3);
      for (const op of (s.bytes === 4096 ? ['download', 'upload', 'upload new'] : ['download', 'upload']) as Array<'download' | 'upload' | 'upload new'>) {
        const compared = op === 'download' && s.bytes === 4096 ? [...targets, rest] : targets;
        const one = (t: Target) => {
          if (t === rest) return load(t, 'GET', t.download(''), undefined, connections, duration);
          if (op === 'download') return load(t, 'GET', t.download(stored.get(`${t.name}:${s.name}`)!), undefined, connections, duration);
          const u = t.upload(s.name);
          // Plinth and the bare server replace one name (every upload contends for it); `upload new` gives each its own.
          return load(t, u.method, u.path, body, connections, duration, u.headers, op === 'upload new');
        };
        const results = new Map<string, Load[]>();
        for (const t of [...compared, ...[...compared].reverse()]) results.set(t.name, [...(results.get(t.name) ?? []), await one(t)]);
        const mean = (name: string): Load => {
          const [a, b] = results.get(name)!;
          return { rps: (a.rps + b.rps) / 2, mbps: (a.mbps + b.mbps) / 2, p99: Math.max(a.p99, b.p99), non2xx: a.non2xx + b.non2xx };
        };
        for (const t of compared) {
          const r = mean(t.name);
          console.log(`${s.label.padEnd(7)} ${op.padEnd(9)} ${t.name.padEnd(10)} ${r.rps.toFixed(0).padStart(8)}  ${r.mbps.toFixed(1).padStart(9)}  ${String(r.p99).padStart(7)}`);
        }
        const [b, pl, pa] = ['bare', 'plinth', 'parse'].map(mean);
        console.log(`${''.padEnd(18)}Plinth/bare ${(pl.rps / b.rps).toFixed(2)}   Plinth/Parse ${(pl.rps / pa.rps).toFixed(2)}`);
        if (compared.includes(rest)) {
          const r = mean(rest.name);
          console.log(`${''.padEnd(18)}REST one-row read/bare ${(r.rps / b.rps).toFixed(2)}   Plinth download/REST one-row read ${(pl.rps / r.rps).toFixed(2)}`);
        }
      }
    }

    const bigFile = join(work, 'large.bin');
    const chunk = Buffer.alloc(1048576, 5);
    writeFileSync(bigFile, Buffer.alloc(0));
    for (let i = 0; i < largeMiB; i++) writeFileSync(bigFile, chunk, { flag: 'a' });
    const bigBytes = largeMiB * 1048576;
    console.log(`\n${largeMiB} MiB, one stream at a time; RSS of the server process before and at its peak during the transfer`);
    console.log('op        server      MiB/s   RSS before  RSS peak (MiB)');
    const big = new Map<string, { up: number[]; down: number[]; rss: string[] }>();
    for (const t of [...targets, ...[...targets].reverse()]) {
      const entry = big.get(t.name) ?? { up: [], down: [], rss: [] };
      const before = rssMiB(t.pid);
      const up = await measured(t.pid, () => uploadFile(t, 'large.bin', bigFile, bigBytes));
      const name = t.storedName(up.value, 'large.bin');
      const down = await measured(t.pid, () => downloadAll(t, t.download(name)));
      if (down.value !== bigBytes) throw new Error(`${t.name}: downloaded ${down.value} bytes of ${bigBytes}`);
      entry.up.push(largeMiB / up.seconds);
      entry.down.push(largeMiB / down.seconds);
      entry.rss.push(`${before.toFixed(0)} → up ${up.peak.toFixed(0)}, down ${down.peak.toFixed(0)}`);
      big.set(t.name, entry);
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const op of ['up', 'down'] as const) {
      for (const t of targets) {
        const e = big.get(t.name)!;
        console.log(`${(op === 'up' ? 'upload' : 'download').padEnd(9)} ${t.name.padEnd(10)} ${avg(e[op]).toFixed(0).padStart(6)}   ${e.rss.join('; ')}`);
      }
      const [b, pl, pa] = ['bare', 'plinth', 'parse'].map((n) => avg(big.get(n)![op]));
      console.log(`${''.padEnd(10)}Plinth/bare ${(pl / b).toFixed(2)} (target ≥ 0.70)   Plinth/Parse ${(pl / pa).toFixed(2)}`);
    }
  } finally {
    bare?.kill('SIGTERM');
    parse?.kill('SIGTERM');
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
