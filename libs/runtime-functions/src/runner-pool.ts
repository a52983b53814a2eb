import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { ChildMessage, DbOp, DbResult, InvokeMessage, InvokeOutcome, NotifyOp, ParentMessage, RunnerSettings, WarmIsolateStats } from './runner-protocol';

/** A runner died (or was killed) with the call in flight: the caller answers 502. */
export class RunnerLost extends Error {}
/** No runner can run functions here (isolated-vm doesn't load on this Node): the caller answers 503. */
export class RunnersUnavailable extends Error {}
/** The streamed request body passed its size limit: the caller answers 413. */
export class RequestTooLarge extends Error {}
/** The client went away (or stalled past the call's timeout) before its body arrived: the call is dropped. */
export class RequestAborted extends Error {}

/** A request body read as it arrives and forwarded in chunks (see {@link RunnerPool.invoke}). */
export interface Upload {
  stream: Readable;
  /** Bytes allowed; one more ends the call with {@link RequestTooLarge}, nothing buffered. */
  limit: number;
  /** The whole body must have arrived within this (a trickling client holds no slot for longer). */
  timeoutMs: number;
}

/** Request body bytes sent to a runner but not yet acknowledged; past this the incoming request is paused. */
export const UPLOAD_WINDOW_BYTES = 256 * 1024;

export interface PoolCall {
  key: string;
  memoryMb: number;
  timeoutMs: number;
  cpuMs: number;
  request: InvokeMessage['request'];
  env: InvokeMessage['env'];
  /** The compiled module, loaded only if the runner doesn't hold the isolate warm. */
  code: () => Promise<string>;
  /** Serves the function's `env.db` calls (the api decides as whom). */
  db: (op: DbOp) => Promise<DbResult>;
  /** Serves the function's `env.notify.send` calls (the api decides whether it may). */
  notify: (op: NotifyOp) => Promise<DbResult>;
  /** A body to stream in (then `request.body` is null). */
  upload?: Upload;
}

/** An outcome as the pool hands it over: a chunked response body comes as `stream` (its bytes as they cross IPC). */
export type PoolOutcome = InvokeOutcome & { stream?: Readable };

interface InFlight {
  call: PoolCall;
  resolve: (o: PoolOutcome) => void;
  reject: (e: Error) => void;
}

const HEALTH_MS = 5000;
const START_WAIT_MS = 20_000;

/** Where the runner's entry point is: its TypeScript source beside ours under jest and swc-node, else the build. */
function runnerEntry(): { script: string; execArgv: string[]; cwd: string } {
  const root = resolve(__dirname, '../../..');
  const ts = __filename.endsWith('.ts');
  const script = resolve(root, 'apps/function-runner/src', ts ? 'main.ts' : 'main.js');
  // isolated-vm needs V8 without the startup snapshot; TypeScript sources are compiled on load by swc.
  return { script, execArgv: ['--no-node-snapshot', ...(ts ? ['-r', '@swc-node/register'] : [])], cwd: ts ? root : process.cwd() };
}

/** One supervised runner process. */
class Runner {
  child: ChildProcess | undefined;
  ready = false;
  readonly inflight = new Map<number, InFlight>();
  /** Isolate keys whose code this runner process was sent (a first call sends the code with it: no `need-code` hop). */
  readonly sent = new Set<string>();
  /** Response bodies still crossing IPC, by call id. */
  readonly streams = new Map<number, PassThrough>();
  /** Request bodies being forwarded, by call id: `ack` takes the bytes the runner acknowledged, `drop` stops reading. */
  readonly uploads = new Map<number, { ack: (bytes: number) => void; drop: () => void }>();
  private waiters: Array<() => void> = [];
  private readonly statsWaiters = new Map<number, (s: WarmIsolateStats[]) => void>();
  private failures = 0;
  private startedAt = 0;
  private lastPong = 0;
  private pingId = 0;
  private health: NodeJS.Timeout | undefined;
  stopped = false;

  constructor(
    readonly index: number,
    private readonly pool: RunnerPool,
  ) {}

  start(): void {
    const { script, execArgv, cwd } = runnerEntry();
    this.startedAt = Date.now();
    this.lastPong = Date.now();
    this.sent.clear();
    const child = fork(script, [JSON.stringify(this.pool.settings)], { execPath: process.execPath, execArgv, cwd, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    child.on('message', (m: ChildMessage) => this.onMessage(m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', () => undefined);
    this.health = setInterval(() => this.check(), HEALTH_MS);
    this.health.unref();
  }

  /** Resolves once ready (or rejects when the pool gives up). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new RunnersUnavailable('no function runner started in time')), START_WAIT_MS);
      this.waiters.push(() => {
        clearTimeout(timer);
        if (this.pool.unavailable) fail(new RunnersUnavailable(this.pool.unavailable));
        else ok();
      });
    });
  }

  send(msg: ParentMessage): void {
    try {
      this.child?.send(msg);
    } catch {
      // The channel closed: the exit handler fails what is in flight.
    }
  }

  /** The runner's warm isolates (empty when it isn't running or doesn't answer within a second). */
  stats(): Promise<WarmIsolateStats[]> {
    if (!this.ready || !this.child) return Promise.resolve([]);
    const id = ++this.pingId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.statsWaiters.delete(id);
        resolve([]);
      }, 1000);
      this.statsWaiters.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.send({ t: 'stats', id });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  private check(): void {
    if (!this.ready || !this.child) return;
    if (Date.now() - this.lastPong > 3 * HEALTH_MS) {
      this.pool.logger.warn(`function runner ${this.index} stopped answering health checks; restarting it`);
      this.kill();
      return;
    }
    this.send({ t: 'ping', id: ++this.pingId });
  }

  private onMessage(m: ChildMessage): void {
    switch (m.t) {
      case 'ready':
        this.ready = true;
        this.lastPong = Date.now();
        return this.flushWaiters();
      case 'unavailable':
        this.pool.markUnavailable(m.message);
        this.stopped = true;
        this.flushWaiters();
        return void this.child?.kill();
      case 'pong':
        this.lastPong = Date.now();
        return;
      case 'stats': {
        const done = this.statsWaiters.get(m.id);
        this.statsWaiters.delete(m.id);
        return done?.(m.isolates);
      }
      case 'need-code': {
        const f = this.inflight.get(m.id);
        if (!f) return;
        f.call.code().then(
          (code) => this.send({ ...this.pool.message(m.id, f.call), code }),
          (e: Error) => this.settle(m.id, (x) => x.reject(e)),
        );
        return;
      }
      case 'db': {
        const f = this.inflight.get(m.id);
        if (!f) return this.send({ t: 'db-result', callId: m.callId, result: { status: 410, headers: {}, body: null } });
        f.call.db(m.op).then(
          (result) => this.send({ t: 'db-result', callId: m.callId, result }),
          () => this.send({ t: 'db-result', callId: m.callId, result: { status: 500, headers: {}, body: JSON.stringify({ code: 'PGRST000', message: 'env.db failed', details: null, hint: null }) } }),
        );
        return;
      }
      case 'notify': {
        const f = this.inflight.get(m.id);
        if (!f) return this.send({ t: 'db-result', callId: m.callId, result: { status: 410, headers: {}, body: null } });
        f.call.notify(m.op).then(
          (result) => this.send({ t: 'db-result', callId: m.callId, result }),
          () => this.send({ t: 'db-result', callId: m.callId, result: { status: 500, headers: {}, body: JSON.stringify({ code: 'internal_error', message: 'env.notify failed' }) } }),
        );
        return;
      }
      case 'result': {
        if (!m.outcome.response?.chunked || !this.inflight.has(m.id)) return this.settle(m.id, (f) => f.resolve(m.outcome));
        const stream = new PassThrough();
        // Whoever reads it handles its failure; nobody reading (a cron run) must not make it an uncaught error.
        stream.on('error', () => undefined);
        this.streams.set(m.id, stream);
        this.pool.streamedBodies++;
        return this.settle(m.id, (f) => f.resolve({ ...m.outcome, stream }));
      }
      case 'req-ack':
        return this.uploads.get(m.id)?.ack(m.bytes);
      case 'chunk': {
        const stream = this.streams.get(m.id);
        if (!stream) return;
        stream.write(m.data);
        if (m.last) {
          this.streams.delete(m.id);
          stream.end();
        }
        return;
      }
    }
  }

  private settle(id: number, fn: (f: InFlight) => void): void {
    const f = this.inflight.get(id);
    if (!f) return;
    this.inflight.delete(id);
    fn(f);
  }

  private flushWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    clearInterval(this.health);
    this.ready = false;
    this.child = undefined;
    const lost = [...this.inflight.values()];
    this.inflight.clear();
    for (const f of lost) f.reject(new RunnerLost(`the function runner stopped (${signal ?? `exit ${code}`}) during the call`));
    // Uploads to it stop being read (their calls were just answered 502).
    for (const u of [...this.uploads.values()]) u.drop();
    this.uploads.clear();
    // Bodies cut off mid-way: their responses are aborted (never ended as if complete).
    for (const s of this.streams.values()) s.destroy(new RunnerLost('the function runner stopped while sending the response body'));
    this.streams.clear();
    if (this.stopped || this.pool.closing) return this.flushWaiters();
    // Restart with backoff; a runner that lived a while starts again at once.
    this.failures = Date.now() - this.startedAt > 30_000 ? 0 : this.failures + 1;
    const delay = this.failures === 0 ? 0 : Math.min(5000, 100 * 2 ** (this.failures - 1));
    this.pool.logger.warn(`function runner ${this.index} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
    setTimeout(() => {
      if (!this.pool.closing && !this.stopped) this.start();
    }, delay).unref();
  }
}

/**
 * The function runners: `FUNCTION_RUNNERS` child processes (default one per core) started on first use and
 * supervised here — health checks (a runner that stops answering pings is killed), restart with backoff, and every
 * in-flight call of a runner that dies rejected with {@link RunnerLost} (never left hanging). A call goes to the
 * less busy of the two runners its function hashes to (see {@link pick}).
 */
@Injectable()
export class RunnerPool implements OnApplicationShutdown {
  readonly logger = new Logger(RunnerPool.name);
  readonly settings: RunnerSettings;
  private runners: Runner[] = [];
  private nextId = 0;
  unavailable: string | undefined;
  closing = false;
  /** Response bodies that crossed IPC in chunks (operations, tests). */
  streamedBodies = 0;
  /** Request bodies that crossed IPC in chunks, and the most bytes any had in flight at once (operations, tests). */
  streamedRequests = 0;
  uploadPeakInFlight = 0;

  constructor(@Inject(PLINTH_CONFIG) private readonly config: PlinthConfig) {
    const f = config.functions;
    this.settings = {
      maxIsolates: f.isolatesPerRunner,
      maxIsolatesHeapBytes: f.isolatesHeapBytes,
      maxResponseBytes: f.maxResponseBytes,
      maxLogBytes: 64 * 1024,
      fetch: { allowPrivate: config.outbound.allowPrivate, timeoutMs: f.fetchTimeoutMs, maxBytes: f.fetchMaxBytes, maxCalls: 50 },
      maxDbCalls: 100,
      maxNotifyCalls: 20,
    };
  }

  /** Whether the runner's entry point exists (a build without apps/function-runner can't run functions). */
  private entryExists(): boolean {
    return existsSync(runnerEntry().script);
  }

  private ensureStarted(): void {
    if (this.runners.length || this.closing) return;
    if (!this.entryExists()) {
      this.markUnavailable('the function runner is not built');
      return;
    }
    for (let i = 0; i < this.config.functions.runners; i++) {
      const r = new Runner(i, this);
      this.runners.push(r);
      r.start();
    }
  }

  markUnavailable(reason: string): void {
    if (!this.unavailable) this.logger.error(`functions are unavailable: ${reason}`);
    this.unavailable = reason;
  }

  message(id: number, call: PoolCall): InvokeMessage {
    // A streamed body follows as chunks (also when this message is sent again with the code, on `need-code`).
    const request = call.upload ? { ...call.request, body: null, streamed: true } : call.request;
    return { t: 'invoke', id, key: call.key, memoryMb: call.memoryMb, timeoutMs: call.timeoutMs, cpuMs: call.cpuMs, request, env: call.env };
  }

  /** Runs a call on a runner; rejects with {@link RunnerLost} or {@link RunnersUnavailable}. */
  async invoke(call: PoolCall): Promise<PoolOutcome> {
    this.ensureStarted();
    if (this.unavailable) throw new RunnersUnavailable(this.unavailable);
    const runner = await this.pick(call.key);
    const id = ++this.nextId;
    const msg = this.message(id, call);
    // A function this runner has never been sent gets its code at once (it would ask for it: one more round trip
    // on the cold path). A runner that evicted it since still asks (`need-code`).
    if (!runner.sent.has(call.key)) {
      msg.code = await call.code();
      if (runner.sent.size >= 10_000) runner.sent.clear();
      runner.sent.add(call.key);
    }
    return new Promise<PoolOutcome>((resolve, reject) => {
      runner.inflight.set(id, { call, resolve, reject });
      runner.send(msg);
      if (call.upload) this.forward(runner, id, call.upload);
    });
  }

  /**
   * Forwards a request body to the runner as it arrives, chunk by chunk: at most {@link UPLOAD_WINDOW_BYTES} sent and
   * not yet acknowledged (the incoming request is paused beyond that, so TCP slows the client down and this process
   * never holds the body). Past the size limit, on a client gone mid-upload, or past the call's timeout the runner is
   * told to drop the call and the caller's promise rejects ({@link RequestTooLarge}, {@link RequestAborted}).
   */
  private forward(runner: Runner, id: number, up: Upload): void {
    const { stream } = up;
    let unacked = 0;
    let total = 0;
    let done = false;
    this.streamedRequests++;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      runner.uploads.delete(id);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      stream.off('error', onClose);
      if (!error) return;
      stream.pause();
      if (runner.inflight.has(id)) runner.send({ t: 'req-abort', id });
      const f = runner.inflight.get(id);
      runner.inflight.delete(id);
      f?.reject(error);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > up.limit) return finish(new RequestTooLarge(`The request body is larger than the ${up.limit} bytes allowed`));
      unacked += chunk.length;
      if (unacked > this.uploadPeakInFlight) this.uploadPeakInFlight = unacked;
      runner.send({ t: 'req-chunk', id, data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), last: false });
      if (unacked >= UPLOAD_WINDOW_BYTES) stream.pause();
    };
    const onEnd = (): void => {
      runner.send({ t: 'req-chunk', id, data: new Uint8Array(0), last: true });
      finish();
    };
    const onClose = (): void => finish(new RequestAborted('the client closed the connection before its request body arrived'));
    const timer = setTimeout(() => finish(new RequestAborted(`the request body did not arrive within ${up.timeoutMs} ms`)), up.timeoutMs);
    timer.unref();
    runner.uploads.set(id, {
      ack: (bytes) => {
        unacked -= bytes;
        if (unacked < UPLOAD_WINDOW_BYTES && stream.isPaused() && !done) stream.resume();
      },
      drop: () => finish(new RunnerLost('the function runner stopped while the request body was arriving')),
    });
    // A socket error after the body was taken must not go unhandled once these listeners are gone.
    stream.on('error', () => undefined);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onClose);
    stream.on('error', onClose);
    // The client may have gone while a runner was being picked: its close already happened.
    if (stream.destroyed) return onClose();
    stream.resume();
  }

  /**
   * The runner for a function: the less busy of the two it hashes to (so its isolates stay warm on at most two, and
   * one busy function spreads over two cores), else any ready one, else its first once that one is ready.
   */
  private async pick(key: string): Promise<Runner> {
    const n = this.runners.length;
    const home = hash(key) % n;
    const a = this.runners[home];
    const b = this.runners[(home + 1) % n];
    if (a.ready && b.ready) return b.inflight.size < a.inflight.size ? b : a;
    for (let i = 0; i < n; i++) {
      const r = this.runners[(home + i) % n];
      if (r.ready) return r;
    }
    await a.whenReady();
    return a;
  }

  /** Process ids of the runners (for operations and the kill -9 test). */
  pids(): number[] {
    return this.runners.map((r) => r.child?.pid).filter((p): p is number => p !== undefined);
  }

  /** Each runner's warm isolates, least recently used first (operations, tests). */
  stats(): Promise<WarmIsolateStats[][]> {
    return Promise.all(this.runners.map((r) => r.stats()));
  }

  /** Calls in flight on each runner. */
  load(): number[] {
    return this.runners.map((r) => r.inflight.size);
  }

  onApplicationShutdown(): void {
    this.closing = true;
    for (const r of this.runners) {
      r.stopped = true;
      r.kill('SIGTERM');
    }
  }
}

/** FNV-1a: a stable spread of function keys over runners. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
