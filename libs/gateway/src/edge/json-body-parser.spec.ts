import express, { Request, Response } from 'express';
import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { jsonBodyParser } from './json-body-parser';

const OPTIONS = { limit: 64, type: ['application/json', 'application/*+json'] };

/** What a parser did with one request: the body it left, or its error's status, type and own fields. */
interface Outcome {
  body?: unknown;
  hasBody: boolean;
  error?: Record<string, unknown>;
}

function outcomeOf(req: Request, err: unknown): Outcome {
  if (!err) return { body: req.body as unknown, hasBody: 'body' in req };
  const e = err as Error & Record<string, unknown>;
  const fields = Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'stack'));
  return { hasBody: 'body' in req, error: { name: e.name, message: e.message, ...fields } };
}

/**
 * `jsonBodyParser` is a faster reader in front of Express's json() (body-parser): for the same bytes and headers it
 * must leave the same `req.body` or call next with the same error. Each raw request goes to a server that runs one
 * parser or the other (by path) and records what it did.
 */
describe(jsonBodyParser.name, () => {
  let server: Server;
  let port: number;
  const outcomes = new Map<string, Outcome>();
  const bodyParser = express.json(OPTIONS);
  const fast = jsonBodyParser(OPTIONS);
  const jsonSpy = jest.spyOn(express, 'json');

  beforeAll(async () => {
    server = createServer((raw: IncomingMessage, rawRes: ServerResponse) => {
      const req = raw as Request;
      const res = rawRes as Response;
      const id = String(req.headers['x-case']);
      const parse = req.url === '/fast' ? fast : bodyParser;
      parse(req, res, (err) => {
        outcomes.set(`${req.url}:${id}`, outcomeOf(req, err));
        if (!res.destroyed) res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    jsonSpy.mockRestore();
    server.close();
    await once(server, 'close');
  });

  /** Sends raw bytes (in the given pieces), then waits for the answer, half-closes the socket, or destroys it. */
  async function send(path: string, id: string, head: string, pieces: Buffer[], end: End): Promise<Outcome | undefined> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\nx-case: ${id}\r\nconnection: close\r\n${head}\r\n`);
    for (const piece of pieces) {
      socket.write(piece);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (end === 'destroy') socket.destroy();
    else {
      if (end === 'half-close') socket.end();
      socket.resume();
      await once(socket, 'close');
    }
    for (let i = 0; i < 100 && !outcomes.has(`${path}:${id}`); i++) await new Promise((r) => setTimeout(r, 5));
    return outcomes.get(`${path}:${id}`);
  }

  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  const withLength = (type: string | null, body: Buffer, extra = '') => `${type ? `content-type: ${type}\r\n` : ''}content-length: ${body.length}\r\n${extra}`;
  type End = 'answer' | 'half-close' | 'destroy';
  type Case = [name: string, head: string, pieces: Buffer[], end?: End];
  const json = 'application/json';
  const multi = utf8('{"a":"é€😀"}');
  const cases: Case[] = [
    ['an object', withLength(json, utf8('{"a":1,"b":[true,null]}')), [utf8('{"a":1,"b":[true,null]}')]],
    ['an array, multibyte characters split across packets', withLength(json, multi), [multi.subarray(0, 7), multi.subarray(7)]],
    ['an empty body', withLength(json, Buffer.alloc(0)), []],
    ['invalid JSON', withLength(json, utf8('{"a":')), [utf8('{"a":')]],
    ['a string at the top level', withLength(json, utf8('"hello"')), [utf8('"hello"')]],
    ['a number at the top level', withLength(json, utf8('123')), [utf8('123')]],
    ['null at the top level', withLength(json, utf8('null')), [utf8('null')]],
    ['only whitespace', withLength(json, utf8('   ')), [utf8('   ')]],
    ['leading whitespace', withLength(json, utf8(' \n{"a":1}')), [utf8(' \n{"a":1}')]],
    ['a BOM', withLength(json, utf8('\ufeff{"a":1}')), [utf8('\ufeff{"a":1}')]],
    ['invalid UTF-8', withLength(json, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])]],
    ['a __proto__ key', withLength(json, utf8('{"__proto__":{"x":1}}')), [utf8('{"__proto__":{"x":1}}')]],
    ['charset=utf-8', withLength('application/json; charset=utf-8', utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['an upper-case type and charset', withLength('Application/JSON; charset=UTF-8', utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['charset=latin1 (415)', withLength('application/json; charset=latin1', utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['charset=utf-16le', withLength('application/json; charset=utf-16le', Buffer.from('{"a":1}', 'utf16le')), [Buffer.from('{"a":1}', 'utf16le')]],
    ['a +json type', withLength('application/vnd.x+json', utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['text/plain (not parsed)', withLength('text/plain', utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['no content type', withLength(null, utf8('{"a":1}')), [utf8('{"a":1}')]],
    ['a body over the limit (413)', withLength(json, utf8(`{"a":"${'x'.repeat(80)}"}`)), [utf8(`{"a":"${'x'.repeat(80)}"}`)]],
    ['a body at the limit', withLength(json, utf8(`{"a":"${'x'.repeat(56)}"}`)), [utf8(`{"a":"${'x'.repeat(56)}"}`)]],
    ['gzip', withLength(json, gzipSync('{"a":1}'), 'content-encoding: gzip\r\n'), [gzipSync('{"a":1}')]],
    ['deflate', withLength(json, deflateSync('{"a":1}'), 'content-encoding: deflate\r\n'), [deflateSync('{"a":1}')]],
    ['identity', withLength(json, utf8('{"a":1}'), 'content-encoding: identity\r\n'), [utf8('{"a":1}')]],
    ['an unsupported encoding (415)', withLength(json, utf8('{"a":1}'), 'content-encoding: compress\r\n'), [utf8('{"a":1}')]],
    ['chunked', `content-type: ${json}\r\ntransfer-encoding: chunked\r\n`, [utf8('7\r\n{"a":1}\r\n0\r\n\r\n')]],
    ['chunked over the limit (413)', `content-type: ${json}\r\ntransfer-encoding: chunked\r\n`, [utf8(`50\r\n${'x'.repeat(80)}\r\n0\r\n\r\n`)]],
    ['a client that stops sending (400 aborted)', `content-type: ${json}\r\ncontent-length: 40\r\n`, [utf8('{"a":')], 'destroy'],
    ['a client that half-closes early', `content-type: ${json}\r\ncontent-length: 40\r\n`, [utf8('{"a":')], 'half-close'],
    ['a complete request, then a half-close', withLength(json, utf8('{"a":1}')), [utf8('{"a":1}')], 'half-close'],
  ];

  it.each(cases)('treats %s as body-parser does', async (name, head, pieces, end = 'answer') => {
    const viaExpress = await send('/express', name, head, pieces, end);
    const viaFast = await send('/fast', name, head, pieces, end);
    expect(viaExpress).toBeDefined();
    expect(viaFast).toEqual(viaExpress);
  });

  /** A fast parser whose hand-offs to body-parser's json() are counted in `delegated.n`. */
  function countingParser(): { parser: ReturnType<typeof jsonBodyParser>; delegated: { n: number } } {
    const realJson = jsonSpy.getMockImplementation() ?? express.json;
    const delegated = { n: 0 };
    jsonSpy.mockImplementationOnce((opts) => {
      const inner = realJson(opts);
      return (req, res, next) => {
        delegated.n++;
        inner(req, res, next);
      };
    });
    return { parser: jsonBodyParser(OPTIONS), delegated };
  }

  it('reads the common body itself and hands body-parser only what it must judge', async () => {
    const { parser, delegated } = countingParser();
    const srv = createServer((raw, rawRes) => parser(raw as Request, rawRes as Response, (err) => rawRes.end(JSON.stringify({ err: !!err, body: (raw as Request).body as unknown }))));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
    const post = async (body: string, headers: Record<string, string> = {}) =>
      (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })).json() as Promise<unknown>;
    try {
      expect(await post('{"a":1}')).toEqual({ err: false, body: { a: 1 } });
      expect(await post('[{"a":1}]')).toEqual({ err: false, body: [{ a: 1 }] });
      expect(delegated.n).toBe(0);
      expect(await post('{"a":')).toEqual({ err: true });
      expect(delegated.n).toBe(1);
      expect(await post('{"a":1}', { 'content-type': 'application/vnd.x+json' })).toEqual({ err: false, body: { a: 1 } });
      expect(delegated.n).toBe(2);
    } finally {
      srv.close();
    }
  });

  it('reads a body itself when called after the whole body arrived (the key is judged first)', async () => {
    const { parser, delegated } = countingParser();
    const srv = createServer((raw, rawRes) => {
      const later = (): void => parser(raw as Request, rawRes as Response, (err) => rawRes.end(JSON.stringify({ err: !!err, body: (raw as Request).body as unknown })));
      // Wait until the request is complete (its body sits unread in the stream), as after an awaited key check.
      const wait = (): void => void (raw.complete ? later() : setTimeout(wait, 5));
      wait();
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      expect(await res.json()).toEqual({ err: false, body: { a: 1 } });
      expect(delegated.n).toBe(0);
    } finally {
      srv.close();
    }
  });
});
