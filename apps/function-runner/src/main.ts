/**
 * A function runner: a child process of the api (started by the functions runtime's pool with `--no-node-snapshot`,
 * which isolated-vm needs) that hosts isolated-vm isolates and runs customer functions in them. It talks to its
 * parent over the IPC channel only; its settings come as its one argument. If it dies (out of memory, a native
 * crash, kill -9), the pool answers its in-flight calls 502 and starts another.
 */
import type { ChildMessage, DbOp, DbResult, InvokeMessage, InvokeOutcome, NotifyOp, ParentMessage, RunnerSettings } from '@plinth/runtime-functions';
import { loadIsolatedVm, Sandbox } from './sandbox';

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

/** Response bodies larger than this cross IPC as `chunk` messages (the type-only import keeps the library unloaded). */
const BODY_CHUNK_BYTES = 64 * 1024;

/**
 * Sends an outcome; a large response body follows in chunks, one per turn of the event loop, so the other calls'
 * messages (results, env.db calls) interleave instead of waiting behind megabytes on the one IPC channel.
 */
function sendResult(id: number, outcome: InvokeOutcome): void {
  const body = outcome.response?.body;
  if (!body || body.length <= BODY_CHUNK_BYTES) return send({ t: 'result', id, outcome });
  send({ t: 'result', id, outcome: { ...outcome, response: { ...outcome.response!, body: null, chunked: body.length } } });
  let at = 0;
  const next = () => {
    const end = Math.min(body.length, at + BODY_CHUNK_BYTES);
    send({ t: 'chunk', id, data: body.subarray(at, end), last: end === body.length });
    at = end;
    if (at < body.length) setImmediate(next);
  };
  setImmediate(next);
}

/** A streamed request body as its chunks arrive; `done` resolves with the whole body, or null when it was dropped. */
interface Upload {
  chunks: Uint8Array[];
  size: number;
  done: Promise<Uint8Array | null>;
  settle: (body: Uint8Array | null) => void;
}

/**
 * Streamed request bodies by call id. Each chunk is acknowledged as it is taken (the api keeps a bounded window of
 * unacknowledged bytes, so a fast client waits on this runner instead of filling the api's memory). The isolate gets
 * the body whole once it is complete (the prelude's `Request` holds bytes); a dropped upload never starts the call.
 */
const uploads = new Map<number, Upload>();

function upload(id: number): Upload {
  let u = uploads.get(id);
  if (!u) {
    let settle!: (body: Uint8Array | null) => void;
    const done = new Promise<Uint8Array | null>((resolve) => (settle = resolve));
    u = { chunks: [], size: 0, done, settle };
    uploads.set(id, u);
  }
  return u;
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function main(): void {
  if (!process.send) {
    process.stderr.write('the function runner is started by the api (it needs an IPC channel)\n');
    process.exit(2);
  }
  const settings = JSON.parse(process.argv[2] ?? '{}') as RunnerSettings;
  const { ivm, error } = loadIsolatedVm();
  if (!ivm) {
    send({ t: 'unavailable', message: `isolated-vm could not be loaded (${error})` });
    return;
  }
  let nextCall = 0;
  const pendingDb = new Map<number, (r: DbResult) => void>();
  const db = (id: number, op: DbOp) =>
    new Promise<DbResult>((resolve) => {
      const callId = ++nextCall;
      pendingDb.set(callId, resolve);
      send({ t: 'db', id, callId, op });
    });
  const notify = (id: number, op: NotifyOp) =>
    new Promise<DbResult>((resolve) => {
      const callId = ++nextCall;
      pendingDb.set(callId, resolve);
      send({ t: 'notify', id, callId, op });
    });
  const sandbox = new Sandbox(ivm, settings, db, notify);
  process.on('message', (msg: ParentMessage) => {
    switch (msg.t) {
      case 'ping':
        return send({ t: 'pong', id: msg.id });
      case 'stats':
        return send({ t: 'stats', id: msg.id, isolates: sandbox.stats() });
      case 'db-result': {
        const resolve = pendingDb.get(msg.callId);
        pendingDb.delete(msg.callId);
        return resolve?.(msg.result);
      }
      case 'req-chunk': {
        const u = upload(msg.id);
        if (msg.data.length) {
          u.chunks.push(msg.data);
          u.size += msg.data.length;
          send({ t: 'req-ack', id: msg.id, bytes: msg.data.length });
        }
        if (msg.last) u.settle(concat(u.chunks, u.size));
        return;
      }
      case 'req-abort': {
        const u = upload(msg.id);
        u.chunks = [];
        u.settle(null);
        // A call still waiting for its code (need-code) takes the verdict when it comes back; else it goes soon.
        setTimeout(() => uploads.delete(msg.id), 60_000).unref();
        return;
      }
      case 'invoke':
        if (msg.code === undefined && !sandbox.has(msg.key)) return send({ t: 'need-code', id: msg.id });
        if (msg.request.streamed) {
          void upload(msg.id).done.then((body) => {
            uploads.delete(msg.id);
            if (body === null) return;
            return run({ ...msg, request: { ...msg.request, body: body.length ? body : null, streamed: false } });
          });
          return;
        }
        return run(msg);
    }
  });
  function run(msg: InvokeMessage): void {
    void sandbox.invoke(msg).then(
      (outcome) => sendResult(msg.id, outcome),
      (e: Error) => send({ t: 'result', id: msg.id, outcome: { logs: [], cpuMs: 0, wallMs: 0, fetchBytes: 0, cold: false, failure: { kind: 'thrown', message: e.message } } }),
    );
  }
  // Defence in depth: nothing a function does may end the runner through a stray rejection.
  process.on('unhandledRejection', (e) => process.stderr.write(`function runner: unhandled rejection: ${String((e as Error)?.message ?? e).slice(0, 200)}\n`));
  // The parent gone means nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  send({ t: 'ready' });
}

main();
