/**
 * Storage memory check (issue 15): a 1 GiB upload, then its download, through `/p/:ref/storage/v1/object/…` on the
 * local-disk backend must not raise the api process's RSS by more than 50 MiB over what it was before. The body is
 * generated on the fly here (nothing of that size in this process either); the server writes it to a temporary
 * directory that is removed afterwards. Exits non-zero on a non-2xx answer, a short download or a larger rise.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_bench npm run bench -- test/bench/storage-memory.bench.ts
 * Knobs: BENCH_MEMORY_MIB (object size, default 1024), BENCH_MEMORY_LIMIT_MIB (allowed rise, default 50).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { benchDatabaseUrl, post, signup, startServer, useBenchPlan } from './support';

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no RSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

/** Runs `fn` while sampling the server's RSS every 20 ms: its answer, seconds taken and the peak RSS. */
async function sampled<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; seconds: number; peak: number }> {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  const start = process.hrtime.bigint();
  try {
    const value = await fn();
    return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9, peak: Math.max(peak, rssMiB(pid)) };
  } finally {
    clearInterval(timer);
  }
}

/** `total` bytes in 1 MiB chunks (the same buffer each time), as a stream with back-pressure. */
function generated(total: number): Readable {
  const chunk = Buffer.alloc(1048576, 9);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
}

function send(url: string, method: string, headers: Record<string, string>, body: Readable | undefined): Promise<{ status: number; bytes: number; text: string }> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers }, (r) => {
      let bytes = 0;
      let text = '';
      r.on('data', (c: Buffer) => {
        bytes += c.length;
        if (text.length < 2000) text += c.toString('utf8', 0, Math.min(c.length, 2000));
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, bytes, text }));
      r.on('error', rej);
    });
    req.on('error', rej);
    if (body) pipeline(body, req).catch(rej);
    else req.end();
  });
}

async function main(): Promise<void> {
  const mib = Number(process.env.BENCH_MEMORY_MIB ?? 1024);
  const allowed = Number(process.env.BENCH_MEMORY_LIMIT_MIB ?? 50);
  const size = mib * 1048576;
  const work = mkdtempSync(join(tmpdir(), 'plinth-storage-memory-'));
  const server = await startServer(4765, { STORAGE_DIR: join(work, 'plinth'), STORAGE_MAX_UPLOAD_BYTES: String(size + 1048576) });
  let failed = false;
  try {
    const pid = server.pid!;
    const { token, orgId } = await signup(server.base);
    await useBenchPlan(benchDatabaseUrl(), orgId);
    const p = await post<{ ref: string; keys: { secret: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'storage memory' }, token);
    const headers = { apikey: p.keys.secret };
    const object = `${server.base}/p/${p.ref}/storage/v1/object/mem`;
    const bucket = await fetch(`${server.base}/p/${p.ref}/storage/v1/bucket`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"id":"mem"}' });
    if (!bucket.ok) throw new Error(`bucket: ${bucket.status} ${await bucket.text()}`);
    // Warm-up: the upload and download paths once with a few MiB, so the baseline includes their code and pools.
    for (let i = 0; i < 3; i++) {
      const up = await send(`${object}/warm.bin`, 'POST', { ...headers, 'x-upsert': 'true', 'content-type': 'application/octet-stream', 'content-length': String(8 << 20) }, generated(8 << 20));
      if (up.status !== 200) throw new Error(`warm-up upload: ${up.status} ${up.text}`);
      const down = await send(`${object}/warm.bin`, 'GET', headers, undefined);
      if (down.status !== 200) throw new Error(`warm-up download: ${down.status}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssMiB(pid);
    const up = await sampled(pid, () => send(`${object}/big.bin`, 'POST', { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(size) }, generated(size)));
    if (up.value.status !== 200) throw new Error(`upload: ${up.value.status} ${up.value.text}`);
    const down = await sampled(pid, () => send(`${object}/big.bin`, 'GET', headers, undefined));
    if (down.value.status !== 200 || down.value.bytes !== size) throw new Error(`download: ${down.value.status}, ${down.value.bytes} of ${size} bytes`);
    const rise = Math.max(up.peak, down.peak) - before;
    console.log(`\nStorage memory, one ${mib} MiB object on the local-disk backend; api RSS sampled every 20 ms`);
    console.log(`upload    ${(mib / up.seconds).toFixed(0).padStart(5)} MiB/s   RSS ${before.toFixed(0)} → peak ${up.peak.toFixed(0)} MiB`);
    console.log(`download  ${(mib / down.seconds).toFixed(0).padStart(5)} MiB/s   RSS ${before.toFixed(0)} → peak ${down.peak.toFixed(0)} MiB`);
    console.log(`largest rise ${rise.toFixed(1)} MiB (allowed ${allowed} MiB): ${rise <= allowed ? 'ok' : 'TOO MUCH'}`);
    failed = rise > allowed;
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
