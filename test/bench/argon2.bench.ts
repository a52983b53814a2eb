/**
 * argon2id verify cost per npm implementation × OWASP setting, side by side. "1 thread" verifies one at a time (one
 * core busy); "all cores" keeps one verify in flight per core, as a loaded server does, so memory bandwidth and
 * shared cache are contended. Implementations that aren't installed are skipped; to compare them all:
 *   npm i --no-save argon2 sodium-native hash-wasm @node-rs/argon2
 *   npm run -s bench -- test/bench/argon2.bench.ts      (BENCH_ONLY=@node-rs,sodium  BENCH_ROUNDS=5  BENCH_ROUND_MS=500)
 * Also checks that each implementation verifies the others' hashes (PHC string compatibility).
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';

interface Impl {
  name: string;
  offLoop: boolean;
  hash(password: string, m: number, t: number): Promise<string>;
  verify(hashed: string, password: string): Promise<boolean>;
}

/** OWASP Password Storage Cheat Sheet: argon2id settings rated equivalent (memory KiB, iterations, p=1). */
const OWASP: ReadonlyArray<readonly [m: number, t: number]> = [
  [47104, 1],
  [19456, 2],
  [12288, 3],
  [9216, 4],
  [7168, 5],
];

// The candidates are optional: each is loaded by name only if present, so typed as the few calls used here.
/* eslint-disable @typescript-eslint/no-explicit-any -- untyped optional modules, loaded dynamically */
async function load(name: string): Promise<any> {
  try {
    return await import(name);
  } catch {
    return undefined;
  }
}

async function candidates(): Promise<Impl[]> {
  const out: Impl[] = [];
  const nodeRs = await load('@node-rs/argon2');
  if (nodeRs) {
    out.push({
      name: '@node-rs/argon2',
      offLoop: true,
      hash: (pw, m, t) => nodeRs.hash(pw, { algorithm: 2 /* Argon2id */, memoryCost: m, timeCost: t, parallelism: 1 }),
      verify: (h, pw) => nodeRs.verify(h, pw),
    });
  }
  const argon2 = await load('argon2');
  if (argon2) {
    out.push({
      name: 'argon2 (node-argon2)',
      offLoop: true,
      hash: (pw, m, t) => argon2.hash(pw, { type: argon2.argon2id, memoryCost: m, timeCost: t, parallelism: 1 }),
      verify: (h, pw) => argon2.verify(h, pw),
    });
  }
  const sodium = await load('sodium-native');
  if (sodium) {
    const bytes: number = sodium.crypto_pwhash_STRBYTES;
    out.push({
      name: 'sodium-native',
      offLoop: true,
      hash: async (pw, m, t) => {
        const buf = Buffer.alloc(bytes);
        await sodium.crypto_pwhash_str_async(buf, Buffer.from(pw), t, m * 1024);
        return buf.subarray(0, buf.indexOf(0)).toString();
      },
      verify: (h, pw) => {
        const buf = Buffer.alloc(bytes);
        buf.write(h);
        return sodium.crypto_pwhash_str_verify_async(buf, Buffer.from(pw));
      },
    });
  }
  const wasm = await load('hash-wasm');
  if (wasm) {
    out.push({
      name: 'hash-wasm (on the event loop)',
      offLoop: false,
      hash: (pw, m, t) =>
        wasm.argon2id({ password: pw, salt: randomBytes(16), parallelism: 1, iterations: t, memorySize: m, hashLength: 32, outputType: 'encoded' }),
      verify: (h, pw) => wasm.argon2Verify({ password: pw, hash: h }),
    });
  }
  return out;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Mean wall and CPU ms per verify, `inFlight` at a time, over at least `minMs` and 5 verifies. CPU is this
 * process's (all threads), which other work on the machine barely moves; wall time it stretches.
 */
async function measure(impl: Impl, hashed: string, minMs: number, inFlight: number): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (done < 5 || performance.now() - t0 < minMs) {
        if (!(await impl.verify(hashed, PASSWORD))) throw new Error(`${impl.name}: verify failed`);
        done++;
      }
    }),
  );
  const wall = (performance.now() - t0) / done;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 / done };
}

const PASSWORD = 'Bench-Passw0rd!';

async function main(): Promise<void> {
  const cores = availableParallelism();
  const minMs = Number(process.env.BENCH_ROUND_MS ?? 500);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const only = process.env.BENCH_ONLY?.split(',');
  const installed = await candidates();
  const missing = ['@node-rs/argon2', 'argon2', 'sodium-native', 'hash-wasm'].filter((m) => !installed.some((i) => i.name.startsWith(m)));
  const impls = installed.filter((i) => !only || only.some((o) => i.name.startsWith(o)));
  console.log(`\nargon2id verify, best of ${rounds} rounds of ≥ ${minMs} ms, ${cores} cores available, load average ${loadavg()[0].toFixed(2)}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`);
  if (missing.length) console.log(`not installed, skipped: ${missing.join(', ')}`);
  console.log('                                                      one at a time                                 one per core');
  console.log('setting            implementation                  wall ms  verifies/s   CPU ms  verifies/s per core    verifies/s per core');

  const hashes = new Map<string, string>();
  for (const [m, t] of OWASP) {
    for (const impl of impls) {
      const hashed = await impl.hash(PASSWORD, m, t);
      hashes.set(`${impl.name} ${m} ${t}`, hashed);
      await measure(impl, hashed, 0, 1);
      const one: Array<{ wall: number; cpu: number }> = [];
      const all: Array<{ wall: number; cpu: number }> = [];
      for (let r = 0; r < rounds; r++) {
        one.push(await measure(impl, hashed, minMs, 1));
        // Hash-wasm runs on the main thread: more in flight doesn't add cores.
        all.push(await measure(impl, hashed, minMs, impl.offLoop ? cores : 1));
      }
      // Best of the rounds: other work on the machine only ever adds time to a CPU-bound loop.
      const wall1 = Math.min(...one.map((x) => x.wall));
      const cpu1 = Math.min(...one.map((x) => x.cpu));
      const perCoreAll = 1000 / Math.min(...all.map((x) => x.wall)) / (impl.offLoop ? cores : 1);
      console.log(
        `m=${String(m).padEnd(5)} t=${t} p=1   ${impl.name.padEnd(30)}  ${wall1.toFixed(1).padStart(7)}  ${(1000 / wall1).toFixed(0).padStart(10)}  ${cpu1.toFixed(1).padStart(7)}  ${(1000 / cpu1).toFixed(0).padStart(19)}  ${perCoreAll.toFixed(0).padStart(21)}`,
      );
    }
  }

  // Every implementation must accept every other's PHC string (stored hashes outlive a library switch).
  const bad: string[] = [];
  for (const [key, hashed] of hashes) {
    for (const impl of impls) {
      const ok = await impl.verify(hashed, PASSWORD).catch(() => false);
      const wrong = await impl.verify(hashed, PASSWORD + 'x').catch(() => false);
      if (!ok || wrong) bad.push(`${impl.name} on a hash by ${key} (${hashed.split('$')[3]})`);
    }
  }
  console.log(bad.length ? `cross-verification failures:\n  ${bad.join('\n  ')}` : 'cross-verification: every implementation verifies every other\'s hashes');
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
