import { createHash, randomBytes } from 'node:crypto';
import type { OutboundResponse } from '@plinth/common';
import type { DbOp, DbResult, InvokeFailure, InvokeMessage, InvokeOutcome, LogLine, RunnerSettings } from '@plinth/runtime-functions';
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
  isolate: Isolate;
  prelude: any;
  script: any;
  memoryMb: number;
}

const DIGESTS: Record<string, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** Wraps a compiled CommonJS module so that running it in a context leaves its exports at `__plinthModule`. */
function wrap(code: string): string {
  return `globalThis.__plinthModule = (function () { const module = { exports: {} }; (function (exports, module) {\n${code}\n})(module.exports, module); return module.exports; })();`;
}

/**
 * One runner's isolates: warm per (project, version) with an LRU bound, a fresh context per invocation (no state
 * shared between callers), the prelude and the module compiled once per isolate and run in each context.
 */
export class Sandbox {
  private readonly warm = new Map<string, WarmIsolate>();

  constructor(
    private readonly ivm: Ivm,
    private readonly settings: RunnerSettings,
    /** Sends an `env.db` call to the api for invocation `id` and resolves to its answer. */
    private readonly db: (id: number, op: DbOp) => Promise<DbResult>,
  ) {}

  has(key: string): boolean {
    return this.warm.has(key);
  }

  async invoke(msg: InvokeMessage): Promise<InvokeOutcome> {
    const started = Date.now();
    const logs: LogLine[] = [];
    let cold = false;
    let w = this.warm.get(msg.key);
    if (w && w.memoryMb !== msg.memoryMb) {
      this.evict(msg.key);
      w = undefined;
    }
    const outcome = (partial: Partial<InvokeOutcome>, cpuMs = 0): InvokeOutcome => ({ logs, cpuMs, wallMs: Date.now() - started, fetchBytes: state.fetchBytes, cold, ...partial });
    const state = { fetchBytes: 0, fetchCalls: 0, dbCalls: 0, logBytes: 0, done: false, timers: new Set<NodeJS.Timeout>() };
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
    const cpuStart: bigint = isolate.cpuTime;
    let limit: InvokeFailure | undefined;
    let context: any;
    const deadline = started + msg.timeoutMs;
    const failWith = (f: InvokeFailure) => {
      limit ??= f;
    };
    // CPU: polled; a busy isolate is disposed (the only way to stop a running loop), which ends its other calls too.
    const cpuWatch = setInterval(() => {
      try {
        if (Number(isolate.cpuTime - cpuStart) / 1e6 > msg.cpuMs) {
          failWith({ kind: 'limit', limit: 'cpu', message: `The function used more than its ${msg.cpuMs} ms of CPU time` });
          this.evict(msg.key);
        }
      } catch {
        // disposed meanwhile
      }
    }, 10);
    let wallTimer: NodeJS.Timeout | undefined;
    try {
      context = await isolate.createContext();
      const jail = context.global;
      await jail.set('globalThis', jail.derefInto());
      const log = (level: unknown, message: unknown) => {
        if (state.done) return;
        const text = String(message);
        if (state.logBytes >= this.settings.maxLogBytes) return;
        state.logBytes += text.length;
        logs.push({ at: Date.now(), level: String(level), message: state.logBytes > this.settings.maxLogBytes ? `${text.slice(0, Math.max(0, this.settings.maxLogBytes - (state.logBytes - text.length)))}… [log output truncated]` : text });
      };
      const fetchHost = async (req: { url: string; method: string; headers: Array<[string, string]>; body: Uint8Array | null }) => {
        if (state.done) return { error: 'the invocation has ended' };
        if (++state.fetchCalls > this.settings.fetch.maxCalls) return { error: `at most ${this.settings.fetch.maxCalls} fetch calls per invocation` };
        const f = this.settings.fetch;
        try {
          state.fetchBytes += req.body?.length ?? 0;
          // Loaded on first use: the runner starts without the common library (it is most of a cold start).
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberately lazy (see above)
          const { fetchOutbound } = require('./outbound') as typeof import('./outbound');
          const r: OutboundResponse = await fetchOutbound(String(req.url), { method: String(req.method), headers: req.headers, body: req.body }, { allowPrivate: f.allowPrivate, timeoutMs: Math.max(1, Math.min(f.timeoutMs, deadline - Date.now())), maxBytes: f.maxBytes });
          state.fetchBytes += r.body.length;
          return { status: r.status, statusText: r.statusText, headers: r.headers, body: new Uint8Array(r.body) };
        } catch (e) {
          return { error: (e as Error).message };
        }
      };
      // Host functions the isolate awaits never reject: a rejection would surface in this process, not the
      // isolate. They answer `{ error }` and the prelude throws it inside.
      const dbHost = async (op: DbOp) => {
        if (state.done) return { error: 'the invocation has ended' };
        if (++state.dbCalls > this.settings.maxDbCalls) return { error: `at most ${this.settings.maxDbCalls} env.db calls per invocation` };
        return { ok: await this.db(msg.id, sanitizeOp(op)) };
      };
      const digest = async (alg: string, data: Uint8Array) => {
        const name = DIGESTS[String(alg)];
        if (!name) return { error: `Unsupported digest ${String(alg).slice(0, 20)}` };
        if (!(data instanceof Uint8Array)) return { error: 'digest takes bytes' };
        return { ok: new Uint8Array(createHash(name).update(data).digest()) };
      };
      const random = (n: number) => new Uint8Array(randomBytes(Math.max(0, Math.min(65536, Number(n) | 0))));
      const url = (input: string, base: string | undefined) => {
        try {
          const u = new URL(String(input), base === undefined ? undefined : String(base));
          return { href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password, host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash };
        } catch {
          return null;
        }
      };
      const timer = (ms: number) =>
        new Promise<boolean>((resolve) => {
          if (state.done) return resolve(false);
          const wait = Number(ms);
          // A timer past the invocation's deadline would never matter: it isn't armed.
          if (!(wait >= 0) || Date.now() + wait > deadline || state.timers.size >= 1000) return;
          const t = setTimeout(() => {
            state.timers.delete(t);
            resolve(!state.done);
          }, wait);
          state.timers.add(t);
        });
      const ref = (fn: unknown) => new this.ivm.Reference(fn);
      await Promise.all([
        jail.set('__h_log', ref(log)),
        jail.set('__h_fetch', ref(fetchHost)),
        jail.set('__h_db', ref(dbHost)),
        jail.set('__h_digest', ref(digest)),
        jail.set('__h_random', ref(random)),
        jail.set('__h_url', ref(url)),
        jail.set('__h_timer', ref(timer)),
      ]);
      const remaining = () => Math.max(1, deadline - Date.now());
      await w.prelude.run(context, { timeout: remaining() });
      await w.script.run(context, { timeout: remaining() });
      const entry = await jail.get('__plinthInvoke', { reference: true });
      const wall = new Promise<never>((_, reject) => {
        wallTimer = setTimeout(() => reject(new WallTimeout()), remaining());
      });
      const run = entry.apply(undefined, [msg.request, msg.env, this.settings.maxResponseBytes], { arguments: { copy: true }, result: { promise: true, copy: true }, timeout: remaining() });
      const result = (await Promise.race([run, wall])) as { status?: unknown; headers?: unknown; body?: unknown; tooLarge?: number };
      if (limit) return outcome({ failure: limit }, this.cpuSince(isolate, cpuStart));
      if (typeof result?.tooLarge === 'number') {
        return outcome({ failure: { kind: 'limit', limit: 'output', message: `The response body (${result.tooLarge} bytes) is larger than the ${this.settings.maxResponseBytes} bytes allowed` } }, this.cpuSince(isolate, cpuStart));
      }
      return outcome({ response: checkedResponse(result) }, this.cpuSince(isolate, cpuStart));
    } catch (e) {
      const cpuMs = this.cpuSince(isolate, cpuStart);
      if (limit) return outcome({ failure: limit }, cpuMs);
      if (e instanceof WallTimeout) return outcome({ failure: { kind: 'limit', limit: 'wall', message: `The function did not answer within its ${msg.timeoutMs} ms` } }, cpuMs);
      const message = String((e as Error)?.message ?? e);
      if (isolate.isDisposed || /memory limit/i.test(message)) {
        this.evict(msg.key);
        return outcome({ failure: { kind: 'limit', limit: 'memory', message: `The function ran out of its ${msg.memoryMb} MB of memory` } }, cpuMs);
      }
      if (/Script execution timed out/i.test(message)) return outcome({ failure: { kind: 'limit', limit: 'wall', message: `The function did not answer within its ${msg.timeoutMs} ms` } }, cpuMs);
      return outcome({ failure: { kind: 'thrown', message: message.slice(0, 2000), stack: String((e as Error)?.stack ?? '').slice(0, 4000) } }, cpuMs);
    } finally {
      state.done = true;
      clearInterval(cpuWatch);
      clearTimeout(wallTimer);
      for (const t of state.timers) clearTimeout(t);
      try {
        context?.release();
      } catch {
        // the isolate was disposed
      }
    }
  }

  private cpuSince(isolate: Isolate, start: bigint): number {
    try {
      return Number(isolate.cpuTime - start) / 1e6;
    } catch {
      return 0;
    }
  }

  private async create(msg: InvokeMessage): Promise<WarmIsolate> {
    if (msg.code === undefined) throw new Error('no code was sent for a cold isolate');
    const isolate = new this.ivm.Isolate({ memoryLimit: Math.max(8, msg.memoryMb) });
    try {
      const prelude = await isolate.compileScript(PRELUDE, { filename: 'plinth:prelude' });
      const script = await isolate.compileScript(wrap(msg.code), { filename: 'function.js' });
      const w: WarmIsolate = { isolate, prelude, script, memoryMb: msg.memoryMb };
      this.warm.set(msg.key, w);
      while (this.warm.size > this.settings.maxIsolates) this.evict(this.warm.keys().next().value as string);
      return w;
    } catch (e) {
      if (!isolate.isDisposed) isolate.dispose();
      throw e;
    }
  }

  private evict(key: string): void {
    const w = this.warm.get(key);
    if (!w) return;
    this.warm.delete(key);
    try {
      if (!w.isolate.isDisposed) w.isolate.dispose();
    } catch {
      // already gone
    }
  }
}

class WallTimeout extends Error {}

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
