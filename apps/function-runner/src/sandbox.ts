import { createHash, randomBytes } from 'node:crypto';
import type { OutboundResponse } from '@plinth/common';
import type { DbOp, DbResult, InvokeFailure, InvokeMessage, InvokeOutcome, LogLine, NotifyOp, RunnerSettings } from '@plinth/runtime-functions';
import { PRELUDE } from './prelude';

/* eslint-disable @typescript-eslint/no-explicit-any -- isolated-vm is loaded at run time (5.x or 7.x) and has no shared type here */
type Ivm = any;
type Isolate = any;

/**
 * isolated-vm for this Node: the 7.x alias on Node ≥ 24 (5.x doesn't build there), else 5.x; null when neither
 * loads (then the runner says so and the api answers functions with 503).
 */
export function loadIsolatedVm(): { ivm: Ivm | null; error?: string } {
  const major = Number(process.versions.node.split('.')[0]);
  const names = major >= 24 ? ['isolated-vm-v7', 'isolated-vm'] : ['isolated-vm'];
  const errors: string[] = [];
  for (const name of names) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional native module, chosen at run time
      return { ivm: require(name) };
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { ivm: null, error: errors.join('; ') };
}

interface WarmIsolate {
  key: string;
  isolate: Isolate;
  /** Binds the host callbacks, runs the module, and completes with the entry point (`__plinthInvoke`). */
  script: any;
  memoryMb: number;
  /** Its V8 heap (total_heap_size) when last measured: at creation and every {@link HEAP_CHECK_EVERY} calls. */
  heapBytes: number;
  /** A context made ready ahead of the next call (prelude and module run, entry point found). */
  spare: Prepared | undefined;
  /** A spare is scheduled (made on the next turn of the event loop, after the answer that scheduled it went out). */
  spareQueued: boolean;
  /** Its module started slower than {@link SYNC_START_MS} once: contexts are made on the isolate's thread only. */
  asyncOnly: boolean;
  uses: number;
  active: number;
  retired: boolean;
  /** CPU accounting of the calls running in this isolate (see {@link Sandbox.sample}). */
  meters: Set<CpuMeter>;
  sampler: NodeJS.Timeout | undefined;
  lastCpu: bigint;
  lastAt: number;
  /** Since when the isolate has been busy without a break (a loop that never yields), or null. */
  busySince: number | null;
  /** Set when a call's CPU limit disposed the isolate: its other calls end as CPU-limited too. */
  killedForCpu: boolean;
}

/** One call's share of its isolate's CPU time. */
interface CpuMeter {
  used: number;
  limitMs: number;
  over: boolean;
}

/** Per-invocation state the host callbacks of a context serve; set when its context is taken for a call. */
interface Invocation {
  id: number;
  logs: LogLine[];
  logBytes: number;
  fetchBytes: number;
  fetchCalls: number;
  dbCalls: number;
  notifyCalls: number;
  done: boolean;
  deadline: number;
  timers: Set<NodeJS.Timeout>;
}

interface Prepared {
  context: any;
  entry: any;
  slot: { inv: Invocation | null };
}

const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
/**
 * Contexts whose code made closures aren't reclaimed by isolated-vm 5 (measured ~160 KB each), so an isolate is
 * retired, and a fresh one compiled, once its heap passes this share of its limit or it has served this many calls.
 */
const RETIRE_HEAP_SHARE = 0.5;
const RETIRE_USES = 2000;
const HEAP_CHECK_EVERY = 25;
/** A context is made on the runner's own thread only while the module's top level runs within this (see prepareSync). */
const SYNC_START_MS = 50;

/**
 * What runs in each new context, as one script (measured per context: ~4 ms of isolate CPU running prelude and module
 * apart and fetching the entry point, ~2 ms as one script whose completion value is the entry point): the prelude,
 * the host callbacks bound, the compiled CommonJS module with its exports left at `__plinthModule`, then
 * `__plinthInvoke`. (A V8 startup snapshot of the prelude would start contexts at ~1 ms, but isolated-vm 5 snapshots
 * lose functions' closures, which the prelude is made of.)
 */
function perContextScript(code: string): string {
  const module = `globalThis.__plinthModule = (function () { const module = { exports: {} }; (function (exports, module) {\n${code}\n})(module.exports, module); return module.exports; })();`;
  return `${PRELUDE}\n__plinthBind();\n${module}\nglobalThis.__plinthInvoke;`;
}

/**
 * One runner's isolates: warm per (project, version) with an LRU bound; a fresh context per invocation (no state
 * shared between callers), made ready ahead of the call it serves (prelude and module already run), so a warm call
 * is one hop into the isolate; the prelude and the module compiled once per isolate.
 */
export class Sandbox {
  private readonly warm = new Map<string, WarmIsolate>();

  constructor(
    private readonly ivm: Ivm,
    private readonly settings: RunnerSettings,
    /** Sends an `env.db` call to the api for invocation `id` and resolves to its answer. */
    private readonly db: (id: number, op: DbOp) => Promise<DbResult>,
    /** Sends an `env.notify.send` call to the api for invocation `id` and resolves to its answer. */
    private readonly notify: (id: number, op: NotifyOp) => Promise<DbResult>,
  ) {}

  has(key: string): boolean {
    return this.warm.has(key);
  }

  async invoke(msg: InvokeMessage): Promise<InvokeOutcome> {
    const started = Date.now();
    const inv: Invocation = { id: msg.id, logs: [], logBytes: 0, fetchBytes: 0, fetchCalls: 0, dbCalls: 0, notifyCalls: 0, done: false, deadline: started + msg.timeoutMs, timers: new Set() };
    let cold = false;
    let w = this.warm.get(msg.key);
    if (w && w.memoryMb !== msg.memoryMb) {
      this.retire(w);
      w = undefined;
    }
    const outcome = (partial: Partial<InvokeOutcome>, cpuMs = 0): InvokeOutcome => ({ logs: inv.logs, cpuMs, wallMs: Date.now() - started, fetchBytes: inv.fetchBytes, cold, ...partial });
    if (!w) {
      cold = true;
      try {
        w = await this.create(msg);
      } catch (e) {
        return outcome({ failure: { kind: 'thrown', message: `The function failed to load: ${(e as Error).message}` } });
      }
    } else {
      // Least recently used order: re-insert on use.
      this.warm.delete(msg.key);
      this.warm.set(msg.key, w);
    }
    const { isolate } = w;
    // Taken before this call counts as active: an idle isolate makes a missing context synchronously (see take).
    let ready: Prepared | Promise<Prepared> | undefined;
    try {
      ready = this.take(w);
    } catch (e) {
      ready = Promise.reject(e as Error);
    }
    w.active++;
    w.uses++;
    let limit: InvokeFailure | undefined;
    let prepared: Prepared | undefined;
    const cpuLimit: InvokeFailure = { kind: 'limit', limit: 'cpu', message: `The function used more than its ${msg.cpuMs} ms of CPU time` };
    const meter: CpuMeter = { used: 0, limitMs: msg.cpuMs, over: false };
    this.meter(w, meter);
    let wallTimer: NodeJS.Timeout | undefined;
    try {
      prepared = await ready;
      prepared.slot.inv = inv;
      const wall = new Promise<never>((_, reject) => {
        wallTimer = setTimeout(() => reject(new WallTimeout()), Math.max(1, inv.deadline - Date.now()));
      });
      const run = prepared.entry.apply(undefined, [msg.request, msg.env, this.settings.maxResponseBytes], {
        arguments: { copy: true },
        result: { promise: true, copy: true },
        timeout: Math.max(1, inv.deadline - Date.now()),
      });
      run.catch(() => undefined);
      const result = (await Promise.race([run, wall])) as { status?: unknown; headers?: unknown; body?: unknown; tooLarge?: number };
      if (meter.over) limit = cpuLimit;
      if (limit) return outcome({ failure: limit }, meter.used);
      if (typeof result?.tooLarge === 'number') {
        return outcome({ failure: { kind: 'limit', limit: 'output', message: `The response body (${result.tooLarge} bytes) is larger than the ${this.settings.maxResponseBytes} bytes allowed` } }, meter.used);
      }
      return outcome({ response: checkedResponse(result) }, meter.used);
    } catch (e) {
      const cpuMs = meter.used;
      if (meter.over || w.killedForCpu) limit = cpuLimit;
      const message = String((e as Error)?.message ?? e);
      // The memory limit's own verdict wins over the CPU poll (the GC work before it can trip the CPU limit too).
      if (/memory limit/i.test(message)) {
        this.evict(w);
        return outcome({ failure: { kind: 'limit', limit: 'memory', message: `The function ran out of its ${msg.memoryMb} MB of memory` } }, cpuMs);
      }
      if (limit) return outcome({ failure: limit }, cpuMs);
      if (e instanceof WallTimeout) return outcome({ failure: { kind: 'limit', limit: 'wall', message: `The function did not answer within its ${msg.timeoutMs} ms` } }, cpuMs);
      if (isolate.isDisposed) {
        this.evict(w);
        return outcome({ failure: { kind: 'limit', limit: 'memory', message: `The function ran out of its ${msg.memoryMb} MB of memory` } }, cpuMs);
      }
      if (/Script execution timed out/i.test(message)) return outcome({ failure: { kind: 'limit', limit: 'wall', message: `The function did not answer within its ${msg.timeoutMs} ms` } }, cpuMs);
      return outcome({ failure: { kind: 'thrown', message: message.slice(0, 2000), stack: String((e as Error)?.stack ?? '').slice(0, 4000) } }, cpuMs);
    } finally {
      inv.done = true;
      this.unmeter(w, meter);
      clearTimeout(wallTimer);
      for (const t of inv.timers) clearTimeout(t);
      try {
        prepared?.entry.release();
        prepared?.context.release();
      } catch {
        // the isolate was disposed
      }
      w.active--;
      this.maybeRetire(w);
      // The next call's context, made once this call has answered (the isolate runs one thing at a time: made
      // before, it would have delayed this answer).
      this.queueSpare(w);
    }
  }

  /**
   * The context for a call: the spare made after the previous call (never used by anyone), else a new one, made
   * synchronously when the isolate is idle (no thread hops: ~0.5 ms of this thread) and asynchronously when calls run
   * in it (one of them may be a loop that only its limit ends: this thread must not wait on the isolate's lock).
   */
  private take(w: WarmIsolate): Prepared | Promise<Prepared> {
    const spare = w.spare;
    w.spare = undefined;
    if (spare) return spare;
    // The first context of a new isolate runs the module for the first time (lazy compilation, possibly slow under
    // load): always on the isolate's thread.
    if (w.active === 0 && !w.asyncOnly && w.uses > 0) {
      try {
        return this.prepareSync(w);
      } catch (e) {
        if (!w.asyncOnly) throw e;
      }
    }
    return this.prepare(w);
  }

  /** Makes the spare on the next turn of the event loop, if the isolate is idle then (else its next idle moment). */
  private queueSpare(w: WarmIsolate): void {
    if (w.spareQueued || w.spare || w.retired || w.isolate.isDisposed) return;
    w.spareQueued = true;
    setImmediate(() => {
      w.spareQueued = false;
      if (w.spare || w.retired || w.isolate.isDisposed || w.active > 0 || w.asyncOnly) {
        if (w.asyncOnly && !w.spare && !w.retired && !w.isolate.isDisposed && w.active === 0) this.prepare(w).then((p) => this.keepSpare(w, p), () => undefined);
        return;
      }
      try {
        w.spare = this.prepareSync(w);
      } catch {
        // The isolate failed (disposed, out of memory): the next call finds out and answers for it.
      }
    });
  }

  /** An asynchronously made spare, kept unless one appeared meanwhile or the isolate went. */
  private keepSpare(w: WarmIsolate, p: Prepared): void {
    if (!w.spare && !w.retired && !w.isolate.isDisposed) {
      w.spare = p;
      return;
    }
    try {
      p.context.release();
    } catch {
      // disposed
    }
  }

  /**
   * {@link prepare}, synchronously on this thread: only for an idle isolate, and only while the module's top level
   * runs within {@link SYNC_START_MS} (a module slower to start — a loop at its top level — would hold this thread,
   * and every other function of the runner, for its whole start time: its isolate then makes contexts on the
   * isolate's own thread only).
   */
  private prepareSync(w: WarmIsolate): Prepared {
    const slot: { inv: Invocation | null } = { inv: null };
    const context = w.isolate.createContextSync();
    try {
      context.global.setSync('__h', this.hostRef(slot));
      let entry: any;
      try {
        entry = w.script.runSync(context, { timeout: SYNC_START_MS, reference: true });
      } catch (e) {
        if (/timed out/i.test(String((e as Error)?.message))) w.asyncOnly = true;
        throw e;
      }
      if (entry.typeof !== 'function') throw new Error('the function module replaced the runtime entry point');
      return { context, entry, slot };
    } catch (e) {
      try {
        context.release();
      } catch {
        // disposed
      }
      throw e;
    }
  }

  /** The context's one host reference, a dispatcher bound to the context's invocation slot. */
  private hostRef(slot: { inv: Invocation | null }): unknown {
    return new this.ivm.Reference((kind: unknown, a: unknown, b: unknown) => this.host(slot.inv, kind, a, b));
  }

  /** A new context with the host callbacks, the prelude and the module run, and its entry point. */
  private prepare(w: WarmIsolate): Promise<Prepared> {
    const slot: { inv: Invocation | null } = { inv: null };
    const p = (async () => {
      const context = await w.isolate.createContext();
      try {
        // V8 contexts have their own `globalThis`; the host is one dispatcher reference (see the prelude's bind).
        context.global.setIgnored('__h', this.hostRef(slot));
        const entry = await w.script.run(context, { timeout: 1000, reference: true });
        if (entry.typeof !== 'function') throw new Error('the function module replaced the runtime entry point');
        return { context, entry, slot };
      } catch (e) {
        try {
          context.release();
        } catch {
          // disposed
        }
        throw e;
      }
    })();
    // A spare nobody takes (its isolate disposed) must not surface as an unhandled rejection.
    p.catch(() => undefined);
    return p;
  }

  /** The host side of a context's one reference: `kind` names the callback (the prelude's `H.<kind>`). */
  private host(inv: Invocation | null, kind: unknown, a: unknown, b: unknown): unknown {
    switch (kind) {
      case 'log':
        return this.log(inv, a, b);
      case 'fetch':
        return this.fetch(inv, a as FetchInput);
      case 'db':
        return this.dbCall(inv, a as DbOp);
      case 'notify':
        return this.notifyCall(inv, a);
      case 'digest':
        return digest(a as string, b as Uint8Array);
      case 'random':
        return random(a as number);
      case 'url':
        return parseUrl(a as string, b as string | undefined);
      case 'timer':
        return timer(inv, a as number);
      default:
        return undefined;
    }
  }

  private log(inv: Invocation | null, level: unknown, message: unknown): void {
    if (!inv || inv.done) return;
    const text = String(message);
    const max = this.settings.maxLogBytes;
    if (inv.logBytes >= max) return;
    inv.logBytes += text.length;
    inv.logs.push({ at: Date.now(), level: String(level), message: inv.logBytes > max ? `${text.slice(0, Math.max(0, max - (inv.logBytes - text.length)))}… [log output truncated]` : text });
  }

  // Host functions the isolate awaits never reject: a rejection would surface in this process, not the isolate.
  // They answer `{ error }` and the prelude throws it inside.
  private async fetch(inv: Invocation | null, req: FetchInput) {
    if (!inv || inv.done) return { error: 'the invocation has ended' };
    const f = this.settings.fetch;
    if (++inv.fetchCalls > f.maxCalls) return { error: `at most ${f.maxCalls} fetch calls per invocation` };
    try {
      inv.fetchBytes += req.body?.length ?? 0;
      // Loaded on first use: the runner starts without the common library (it is most of a cold start).
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
      const { fetchOutbound } = require('./outbound') as typeof import('./outbound');
      const r: OutboundResponse = await fetchOutbound(
        String(req.url),
        { method: String(req.method), headers: Array.isArray(req.headers) ? req.headers.map(([k, v]) => [String(k), String(v)] as [string, string]) : [], body: req.body instanceof Uint8Array ? req.body : null },
        { allowPrivate: f.allowPrivate, timeoutMs: Math.max(1, Math.min(f.timeoutMs, inv.deadline - Date.now())), maxBytes: f.maxBytes },
      );
      inv.fetchBytes += r.body.length;
      return { status: r.status, statusText: r.statusText, headers: r.headers, body: new Uint8Array(r.body) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  private async dbCall(inv: Invocation | null, op: DbOp) {
    if (!inv || inv.done) return { error: 'the invocation has ended' };
    if (++inv.dbCalls > this.settings.maxDbCalls) return { error: `at most ${this.settings.maxDbCalls} env.db calls per invocation` };
    return { ok: await this.db(inv.id, sanitizeOp(op)) };
  }

  private async notifyCall(inv: Invocation | null, body: unknown) {
    if (!inv || inv.done) return { error: 'the invocation has ended' };
    if (++inv.notifyCalls > this.settings.maxNotifyCalls) return { error: `at most ${this.settings.maxNotifyCalls} env.notify calls per invocation` };
    if (typeof body !== 'string' || body.length > 64 * 1024) return { error: 'env.notify.send takes an object of at most 64 KiB as JSON' };
    return { ok: await this.notify(inv.id, { body }) };
  }

  /**
   * CPU limits. isolated-vm reports CPU time per isolate, not per call, and the calls of one function version share
   * its isolate; so every 10 ms the isolate's new CPU time is split evenly among the calls in it, and a call over its
   * limit disposes the isolate (the only way to stop running code). A call that never yields (a loop, a catastrophic
   * regex) keeps the isolate busy without a break, so a busy streak longer than the smallest limit in the isolate is
   * a breach as well, however many calls share it. (Counting the whole isolate's time against every call killed I/O
   * bound calls under concurrent load, measured in the functions bench.)
   */
  private meter(w: WarmIsolate, m: CpuMeter): void {
    w.meters.add(m);
    if (w.sampler) return;
    try {
      w.lastCpu = w.isolate.cpuTime;
    } catch {
      return;
    }
    w.lastAt = Date.now();
    w.busySince = null;
    w.sampler = setInterval(() => this.sample(w), 10);
  }

  private unmeter(w: WarmIsolate, m: CpuMeter): void {
    w.meters.delete(m);
    if (w.meters.size === 0) {
      clearInterval(w.sampler);
      w.sampler = undefined;
    }
  }

  private sample(w: WarmIsolate): void {
    let cpu: bigint;
    try {
      cpu = w.isolate.cpuTime;
    } catch {
      clearInterval(w.sampler);
      w.sampler = undefined;
      return;
    }
    const now = Date.now();
    const delta = Number(cpu - w.lastCpu) / 1e6;
    const wall = now - w.lastAt;
    w.lastCpu = cpu;
    w.lastAt = now;
    if (w.meters.size === 0) return;
    const share = delta / w.meters.size;
    let breach = false;
    let smallest = Infinity;
    for (const m of w.meters) {
      m.used += share;
      smallest = Math.min(smallest, m.limitMs);
      if (m.used > m.limitMs) {
        m.over = true;
        breach = true;
      }
    }
    w.busySince = wall > 0 && delta >= 0.8 * wall ? (w.busySince ?? now - wall) : null;
    if (!breach && w.busySince !== null && now - w.busySince > smallest) {
      breach = true;
      for (const m of w.meters) if (m.limitMs === smallest) m.over = true;
    }
    if (breach) {
      w.killedForCpu = true;
      this.evict(w);
      clearInterval(w.sampler);
      w.sampler = undefined;
    }
  }

  private async create(msg: InvokeMessage): Promise<WarmIsolate> {
    if (msg.code === undefined) throw new Error('no code was sent for a cold isolate');
    const isolate = new this.ivm.Isolate({ memoryLimit: Math.max(8, msg.memoryMb) });
    try {
      const script = await isolate.compileScript(perContextScript(msg.code), { filename: 'function.js' });
      const w: WarmIsolate = { key: msg.key, isolate, script, memoryMb: msg.memoryMb, heapBytes: heapOf(isolate), spare: undefined, spareQueued: false, asyncOnly: false, uses: 0, active: 0, retired: false, meters: new Set(), sampler: undefined, lastCpu: 0n, lastAt: 0, busySince: null, killedForCpu: false };
      this.warm.set(msg.key, w);
      this.bound(w);
      return w;
    } catch (e) {
      if (!isolate.isDisposed) isolate.dispose();
      throw e;
    }
  }

  /**
   * Keeps the warm isolates within their count and their total heap (`maxIsolatesHeapBytes`), retiring the least
   * recently used first (never `keep`, the one about to serve a call).
   */
  private bound(keep: WarmIsolate): void {
    let heap = 0;
    for (const w of this.warm.values()) heap += w.heapBytes;
    for (const w of [...this.warm.values()]) {
      if (this.warm.size <= this.settings.maxIsolates && heap <= this.settings.maxIsolatesHeapBytes) return;
      if (w === keep) continue;
      heap -= w.heapBytes;
      this.retire(w);
    }
  }

  /** The warm isolates, least recently used first (for the pool's stats and tests). */
  stats(): Array<{ key: string; heapBytes: number; uses: number }> {
    return [...this.warm.values()].map((w) => ({ key: w.key, heapBytes: w.heapBytes, uses: w.uses }));
  }

  /** Retires a worn isolate (heap share or use count): new calls get a fresh one; this one goes when idle. */
  private maybeRetire(w: WarmIsolate): void {
    if (w.retired) return this.disposeIfIdle(w);
    if (w.uses >= RETIRE_USES) return this.retire(w);
    if (w.uses % HEAP_CHECK_EVERY !== 0 || w.isolate.isDisposed) return;
    w.isolate.getHeapStatistics().then(
      (h: { used_heap_size: number; total_heap_size: number }) => {
        w.heapBytes = h.total_heap_size;
        if (h.used_heap_size > RETIRE_HEAP_SHARE * w.memoryMb * 1024 * 1024) this.retire(w);
        else if (!w.retired) this.bound(w);
      },
      () => undefined,
    );
  }

  private retire(w: WarmIsolate): void {
    w.retired = true;
    if (this.warm.get(w.key) === w) this.warm.delete(w.key);
    this.disposeIfIdle(w);
  }

  private disposeIfIdle(w: WarmIsolate): void {
    if (w.active > 0) return;
    w.spare = undefined;
    try {
      if (!w.isolate.isDisposed) w.isolate.dispose();
    } catch {
      // already gone
    }
  }

  /** Disposes at once (a limit was broken): its other calls end with it. */
  private evict(w: WarmIsolate): void {
    w.retired = true;
    if (this.warm.get(w.key) === w) this.warm.delete(w.key);
    w.spare = undefined;
    try {
      if (!w.isolate.isDisposed) w.isolate.dispose();
    } catch {
      // already gone
    }
  }
}

interface FetchInput {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
}

class WallTimeout extends Error {}

function heapOf(isolate: Isolate): number {
  try {
    return Number(isolate.getHeapStatisticsSync().total_heap_size) || 0;
  } catch {
    return 0;
  }
}

function digest(alg: string, data: Uint8Array): { ok: Uint8Array } | { error: string } {
  const name = DIGESTS[String(alg)];
  if (!name) return { error: `Unsupported digest ${String(alg).slice(0, 20)}` };
  if (!(data instanceof Uint8Array)) return { error: 'digest takes bytes' };
  return { ok: new Uint8Array(createHash(name).update(data).digest()) };
}

function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(Math.max(0, Math.min(65536, Number(n) | 0))));
}

function parseUrl(input: string, base: string | undefined) {
  try {
    const u = new URL(String(input), base === undefined ? undefined : String(base));
    return { href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash };
  } catch {
    return null;
  }
}

/** Resolves true after `ms` unless the invocation has ended; a timer past the deadline is never armed. */
function timer(inv: Invocation | null, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (!inv || inv.done) return resolve(false);
    const wait = Number(ms);
    if (!(wait >= 0) || Date.now() + wait > inv.deadline || inv.timers.size >= 1000) return;
    const t = setTimeout(() => {
      inv.timers.delete(t);
      resolve(!inv.done);
    }, wait);
    inv.timers.add(t);
  });
}

/** What came back from the isolate, checked: it is the function's data and may be anything. */
function checkedResponse(r: { status?: unknown; headers?: unknown; body?: unknown }): NonNullable<InvokeOutcome['response']> {
  const status = Number(r?.status);
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error('The function returned an invalid status');
  const headers: Array<[string, string]> = [];
  if (Array.isArray(r.headers)) {
    for (const h of r.headers.slice(0, 200)) {
      if (Array.isArray(h) && typeof h[0] === 'string' && typeof h[1] === 'string') headers.push([h[0], h[1]]);
    }
  }
  const body = r.body instanceof Uint8Array ? r.body : null;
  return { status, headers, body };
}

/** An `env.db` call as the isolate built it, reduced to plain strings (the api validates it again). */
function sanitizeOp(op: DbOp): DbOp {
  const headers: Record<string, string> = {};
  for (const k of ['prefer', 'accept']) if (typeof op?.headers?.[k] === 'string') headers[k] = op.headers[k];
  return { method: String(op?.method) as DbOp['method'], table: String(op?.table), query: String(op?.query ?? ''), headers, body: typeof op?.body === 'string' ? op.body : null };
}
