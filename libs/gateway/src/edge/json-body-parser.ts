import { isUtf8 } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { json } from 'express';

/** A request whose body a parser may set, as body-parser does. */
export type BodyRequest = IncomingMessage & { body?: unknown };
export type JsonBodyParser = (req: BodyRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/** `application/json`, optionally `; charset=utf-8`: what clients send; everything else goes to body-parser. */
const PLAIN_TYPE = /^application\/json(?:; ?charset=utf-8)?$/i;
const LENGTH = /^\d{1,15}$/;
/** What raw-body listens to on the request besides `data`. */
const EVENTS = ['end', 'aborted', 'error', 'close'] as const;

/**
 * Express's `json()` with the given options, reading the common body itself: a declared length within the limit,
 * plain `application/json` in UTF-8, no Content-Encoding. That body is collected and, when it is valid UTF-8 starting
 * with `{` or `[` (or empty) and JSON.parse takes it, becomes `req.body` as body-parser would make it. Any other
 * request goes to body-parser untouched; and if the read or the parse goes wrong (invalid JSON, a strict-mode or
 * charset problem, a BOM, an aborted request…), the bytes received so far and the request's events are replayed
 * into body-parser, so every refusal is body-parser's own error, with its status and type.
 */
export function jsonBodyParser(options: { limit: number; type: string[] }): JsonBodyParser {
  const parser = json(options);
  return (req, res, next) => {
    const length = plainLength(req, options.limit);
    if (length < 0) {
      parser(req, res, next);
      return;
    }
    readPlain(req, res, next, length, parser);
  };
}

/** The declared length of a body this reader takes itself, or -1. */
function plainLength(req: BodyRequest, limit: number): number {
  const h = req.headers;
  const type = h['content-type'];
  const length = h['content-length'];
  if (type === undefined || length === undefined || h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined) return -1;
  // body-parser skips a request on-finished already deems finished; not ours to decide, so it gets those. A request
  // whose body has all arrived but is still unread (the key is checked first) is not finished.
  if ((req.complete && !req.readable) || req.socket?.readable !== true) return -1;
  if (!LENGTH.test(length) || !PLAIN_TYPE.test(type)) return -1;
  const n = Number(length);
  return n <= limit ? n : -1;
}

function readPlain(req: BodyRequest, res: ServerResponse, next: (err?: unknown) => void, length: number, parser: JsonBodyParser): void {
  // As body-parser does before reading.
  const target: { body?: unknown } = req;
  if (!('body' in target)) target.body = undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    received += chunk.length;
  };
  const onEnd = (): void => {
    detach();
    const body = received === length ? parsePlain(chunks, received) : FAILED;
    if (body === FAILED) {
      replay(req, res, next, parser, chunks, 'end', []);
      return;
    }
    req.body = body;
    next();
  };
  const onOther = (event: (typeof EVENTS)[number]) => (...args: unknown[]): void => {
    detach();
    replay(req, res, next, parser, chunks, event, args);
  };
  const onAborted = onOther('aborted');
  const onError = onOther('error');
  const onClose = onOther('close');
  const detach = (): void => {
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('aborted', onAborted);
    req.removeListener('error', onError);
    req.removeListener('close', onClose);
  };
  req.on('aborted', onAborted);
  req.on('close', onClose);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
}

const FAILED = Symbol('failed');

/** The parsed body, or FAILED for anything body-parser must judge (it may still accept it, e.g. after a BOM). */
function parsePlain(chunks: Buffer[], received: number): unknown {
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
  // body-parser decodes with a replacing decoder; invalid bytes are left to it.
  if (!isUtf8(buf)) return FAILED;
  const text = buf.toString('utf8');
  // body-parser's special case: an empty body is an empty object.
  if (text.length === 0) return {};
  // Strict mode takes only an object or an array; leading whitespace or a BOM are left to body-parser.
  const first = text.charCodeAt(0);
  if (first !== 0x7b && first !== 0x5b) return FAILED;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return FAILED;
  }
}

/**
 * Hands the request to body-parser after the fact: a stand-in with the same headers receives the chunks read so far
 * and then the event that stopped the read (and any later one body-parser still listens to), so body-parser
 * reaches its own verdict. The stand-in is not an IncomingMessage, so body-parser doesn't take it as finished.
 */
function replay(req: BodyRequest, res: ServerResponse, next: (err?: unknown) => void, parser: JsonBodyParser, chunks: Buffer[], event: string, args: unknown[]): void {
  const standIn = new ReplayedRequest(req.headers);
  parser(standIn as unknown as BodyRequest, res, (err) => {
    if (!err) req.body = standIn.body;
    next(err);
  });
  for (const chunk of chunks) standIn.forward('data', [chunk]);
  standIn.forward(event, args);
  // Events after the first (an abort's `error` and `close`) reach it only while body-parser still listens.
  const forwarders = EVENTS.map((e) => {
    const f = (...a: unknown[]): void => {
      standIn.forward(e, a);
      if (standIn.listenerCount(e) === 0) req.removeListener(e, f);
    };
    return [e, f] as const;
  });
  for (const [e, f] of forwarders) if (standIn.listenerCount(e) > 0) req.on(e, f);
}

class ReplayedRequest extends EventEmitter {
  readonly readable = true;
  body?: unknown;

  constructor(readonly headers: IncomingHttpHeaders) {
    super();
  }

  forward(event: string, args: unknown[]): void {
    if (this.listenerCount(event) > 0) this.emit(event, ...args);
  }

  // Flow control is the real request's; body-parser pauses the stream on an error and resumes it to drain it.
  pause(): this {
    return this;
  }

  resume(): this {
    return this;
  }
}
