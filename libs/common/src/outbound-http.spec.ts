import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { isPublicAddress, OutboundAddressError, postJson } from './outbound-http';

describe('outbound webhooks', () => {
  it.each([
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['100.64.0.1', false],
    ['169.254.169.254', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fd00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:8.8.8.8', false],
    ['localhost', false],
    ['172.32.0.1', true],
    ['8.8.8.8', true],
    ['2606:4700:4700::1111', true],
  ])('%s is public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  describe('postJson against a local receiver', () => {
    let server: Server;
    let port: number;
    const received: Array<{ url: string; body: string }> = [];
    let answer: (req: IncomingMessage) => { status: number; headers?: Record<string, string> } | null = () => ({ status: 204 });

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          received.push({ url: req.url ?? '', body });
          const a = answer(req);
          if (a) res.writeHead(a.status, a.headers).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    beforeEach(() => {
      received.length = 0;
      answer = () => ({ status: 204 });
    });

    const opts = (allowPrivate: boolean) => ({ allowPrivate, timeoutMs: 2000, userAgent: 'test' });

    it('delivers JSON and returns the status when private addresses are allowed', async () => {
      expect(await postJson(`http://127.0.0.1:${port}/hook`, { a: 1 }, opts(true))).toBe(204);
      expect(received).toEqual([{ url: '/hook', body: '{"a":1}' }]);
    });

    it('refuses loopback by address and by name, sending nothing', async () => {
      for (const url of [`http://127.0.0.1:${port}/x`, `http://localhost:${port}/x`, `http://[::1]:${port}/x`, `http://0x7f000001:${port}/x`]) {
        await expect(postJson(url, { a: 1 }, opts(false))).rejects.toBeInstanceOf(OutboundAddressError);
      }
      expect(received).toEqual([]);
    });

    it('does not follow redirects', async () => {
      answer = (req) => (req.url === '/hook' ? { status: 302, headers: { location: `http://127.0.0.1:${port}/elsewhere` } } : { status: 200 });
      expect(await postJson(`http://127.0.0.1:${port}/hook`, {}, opts(true))).toBe(302);
      expect(received.map((r) => r.url)).toEqual(['/hook']);
    });

    it('gives up after the timeout', async () => {
      answer = () => null;
      await expect(postJson(`http://127.0.0.1:${port}/slow`, {}, { ...opts(true), timeoutMs: 200 })).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) });
    });

    it('refuses other protocols', async () => {
      await expect(postJson('ftp://example.com/x', {}, opts(true))).rejects.toThrow(/unsupported protocol/);
    });
  });
});
