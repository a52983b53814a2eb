/**
 * Messages between the api (the pool) and a function runner process, over Node's IPC channel with the `advanced`
 * serialization (structured clone: bodies travel as Uint8Array, not base64). Shared by both sides.
 */

/** What a runner is told at start (as its one argument, JSON): no environment reading in the child. */
export interface RunnerSettings {
  /** Warm isolates kept per runner (least recently used go first). */
  maxIsolates: number;
  /** Their total V8 heap, in bytes (least recently used go first). */
  maxIsolatesHeapBytes: number;
  /** Largest response body a function may return, in bytes. */
  maxResponseBytes: number;
  /** Captured console output per invocation, in bytes. */
  maxLogBytes: number;
  /** Outbound `fetch`: non-public addresses allowed (tests, development), timeout, response size cap. */
  fetch: { allowPrivate: boolean; timeoutMs: number; maxBytes: number; maxCalls: number };
  /** `env.db` calls per invocation. */
  maxDbCalls: number;
  /** `env.notify.send` calls per invocation. */
  maxNotifyCalls: number;
}

export interface InvokeRequest {
  method: string;
  url: string;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
  /** The body follows as `req-chunk` messages (a large or unsized upload); `body` is then null. */
  streamed?: boolean;
}

export interface InvokeMessage {
  t: 'invoke';
  id: number;
  /** `<project id>:<version id>`: the warm isolate's key. */
  key: string;
  /** The compiled module; sent only when the runner asked for it (`need-code`). */
  code?: string;
  memoryMb: number;
  timeoutMs: number;
  cpuMs: number;
  request: InvokeRequest;
  env: { secrets: Record<string, string>; user: Record<string, unknown> | null };
}

export type ParentMessage =
  | InvokeMessage
  | { t: 'ping'; id: number }
  | { t: 'stats'; id: number }
  | { t: 'db-result'; callId: number; result: DbResult }
  /** A piece of a streamed request body; each is acknowledged (`req-ack`), which bounds the bytes in flight. */
  | { t: 'req-chunk'; id: number; data: Uint8Array; last: boolean }
  /** The streamed body will not complete (the client went away, or it passed the size limit): drop the call. */
  | { t: 'req-abort'; id: number };

/** An `env.notify.send(...)` call: the send's body as JSON (the api validates it as `POST /notifications/v1/send` does). */
export interface NotifyOp {
  body: string;
}

export interface LogLine {
  at: number;
  level: string;
  message: string;
}

/** Why an invocation failed: the function threw, broke a limit, or the runner itself failed. */
export type InvokeFailure =
  | { kind: 'thrown'; message: string; stack?: string }
  | { kind: 'limit'; limit: 'memory' | 'cpu' | 'wall' | 'output'; message: string };

export interface InvokeOutcome {
  /** `chunked`: the body (this many bytes) follows as `chunk` messages (bodies over 64 KiB); `body` is then null. */
  response?: { status: number; headers: Array<[string, string]>; body: Uint8Array | null; chunked?: number };
  failure?: InvokeFailure;
  logs: LogLine[];
  cpuMs: number;
  wallMs: number;
  /** Bytes sent and received by `fetch`. */
  fetchBytes: number;
  cold: boolean;
}

export interface DbOp {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';
  table: string;
  query: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface DbResult {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

export type ChildMessage =
  | { t: 'ready' }
  | { t: 'unavailable'; message: string }
  | { t: 'pong'; id: number }
  | { t: 'stats'; id: number; isolates: WarmIsolateStats[] }
  | { t: 'need-code'; id: number }
  | { t: 'result'; id: number; outcome: InvokeOutcome }
  | { t: 'chunk'; id: number; data: Uint8Array; last: boolean }
  | { t: 'req-ack'; id: number; bytes: number }
  | { t: 'db'; id: number; callId: number; op: DbOp }
  | { t: 'notify'; id: number; callId: number; op: NotifyOp };

/** A runner's warm isolate, as its stats report it. */
export interface WarmIsolateStats {
  key: string;
  heapBytes: number;
  uses: number;
}
