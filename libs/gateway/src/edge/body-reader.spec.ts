import { once } from 'node:events';
import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyReader } from './body-reader';
import type { BodyMode } from './runtime-registry';

/** What the reader made of one request's body, as `{body}` or `{status}` of its error. */
type Outcome = { body?: unknown; status?: number; type?: string };

describe(BodyReader.name, () => {
  const sut = new BodyReader(16);
  let server: Server;
  let mode: BodyMode;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const reading = sut.read(req, res, mode);
      const done = (o: Outcome) => res.end(JSON.stringify(Buffer.isBuffer(o.body) ? { body: `buffer:${o.body.toString('utf8')}` } : o));
      if (reading === undefined) return done({ body: 'not read' });
      reading.then(
        (body) => done({ body: body === undefined ? 'left unread' : body }),
        (e: { status: number; type?: string }) => done({ status: e.status, type: e.type }),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  afterAll(() => server.close());

  async function send(m: BodyMode, body: string | null, headers: Record<string, string> = {}): Promise<Outcome> {
    mode = m;
    const { port } = server.address() as AddressInfo;
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: body === null ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers } });
    req.end(body ?? undefined);
    const [res] = (await once(req, 'response')) as [NodeJS.ReadableStream];
    let text = '';
    for await (const chunk of res) text += String(chunk);
    return JSON.parse(text) as Outcome;
  }

  it('reads nothing for none and stream, whatever is sent', async () => {
    expect(await send('none', '{"a":1}', { 'content-type': 'application/json' })).toEqual({ body: 'not read' });
    expect(await send('stream', 'bytes', { 'content-type': 'application/octet-stream' })).toEqual({ body: 'not read' });
  });

  it('parses JSON and forms for json, and leaves other media types unread', async () => {
    expect(await send('json', '{"a":1}', { 'content-type': 'application/json' })).toEqual({ body: { a: 1 } });
    expect(await send('json', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' })).toEqual({ body: { a: '1', b: '2' } });
    expect(await send('json', 'hello', { 'content-type': 'text/plain' })).toEqual({ body: 'left unread' });
  });

  it("refuses with body-parser's errors: 400 malformed, 413 over the limit, 415 charset", async () => {
    expect(await send('json', '{"a":', { 'content-type': 'application/json' })).toMatchObject({ status: 400, type: 'entity.parse.failed' });
    expect(await send('json', `{"a":"${'x'.repeat(32)}"}`, { 'content-type': 'application/json' })).toMatchObject({ status: 413 });
    expect(await send('json', '{"a":1}', { 'content-type': 'application/json; charset=latin1' })).toMatchObject({ status: 415 });
  });

  it('reads raw bytes of any type within the limit', async () => {
    expect(await send('raw', 'some bytes', { 'content-type': 'image/png' })).toEqual({ body: 'buffer:some bytes' });
    expect(await send('raw', 'x'.repeat(32), { 'content-type': 'image/png' })).toMatchObject({ status: 413 });
  });
});
