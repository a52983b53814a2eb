import type { LookupAddress } from 'node:dns';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, createServer as createTcpServer, LookupFunction, Server as TcpServer } from 'node:net';
import { connectOutbound, fetchOutbound, isPublicAddress, nonPublicHostReason, OutboundAddressError, outboundFetch, outboundLookup, OutboundResolver, postJson } from './outbound-http';

/** Resolves names from a table, offline; counts the names it was asked for. */
function fakeResolver(table: Record<string, string[]>): OutboundResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = ((hostname, _options, callback) => {
    asked.push(hostname);
    const addresses = table[hostname];
    setImmediate(() => {
      if (!addresses) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    });
  }) as OutboundResolver & { asked: string[] };
  resolve.asked = asked;
  return resolve;
}

function lookupAll(lookup: LookupFunction, hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    lookup(hostname, { all: true }, ((err: Error | null, addresses: LookupAddress[]) => (err ? reject(err) : resolve(addresses))) as never),
  );
}
function lookupOne(lookup: LookupFunction, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => lookup(hostname, {}, (err, address) => (err ? reject(err) : resolve(address as string))));
}

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

  describe('outboundLookup (the check inside the connection\'s own lookup)', () => {
    const privateTargets = ['10.0.0.5', '169.254.169.254', '::1', 'fd00::1', '::ffff:127.0.0.1', '100.64.0.1', '127.0.0.1', '192.168.1.10', 'fe80::1'];

    it.each(privateTargets)('refuses a name that resolves only to %s', async (address) => {
      const lookup = outboundLookup({ allowPrivate: false, resolve: fakeResolver({ 'mail.customer.example': [address] }) });
      await expect(lookupAll(lookup, 'mail.customer.example')).rejects.toBeInstanceOf(OutboundAddressError);
      await expect(lookupOne(lookup, 'mail.customer.example')).rejects.toBeInstanceOf(OutboundAddressError);
    });

    it('keeps only the public addresses of a name that resolves to both, so the socket never tries the private one', async () => {
      const lookup = outboundLookup({ allowPrivate: false, resolve: fakeResolver({ 'mixed.example': ['10.0.0.5', '93.184.216.34', 'fd00::1', '2606:4700:4700::1111'] }) });
      expect((await lookupAll(lookup, 'mixed.example')).map((a) => a.address)).toEqual(['93.184.216.34', '2606:4700:4700::1111']);
      expect(await lookupOne(lookup, 'mixed.example')).toBe('93.184.216.34');
    });

    it('refuses localhost and *.localhost without asking the resolver', async () => {
      const resolve = fakeResolver({ localhost: ['93.184.216.34'], 'mail.localhost': ['93.184.216.34'] });
      const lookup = outboundLookup({ allowPrivate: false, resolve });
      for (const name of ['localhost', 'LOCALHOST.', 'mail.localhost']) await expect(lookupOne(lookup, name)).rejects.toBeInstanceOf(OutboundAddressError);
      expect(resolve.asked).toEqual([]);
    });

    it('passes resolver errors through and allows everything when private addresses are allowed', async () => {
      const lookup = outboundLookup({ allowPrivate: true, resolve: fakeResolver({ 'internal.example': ['10.0.0.5', '::1'] }) });
      expect((await lookupAll(lookup, 'internal.example')).map((a) => a.address)).toEqual(['10.0.0.5', '::1']);
      await expect(lookupOne(lookup, 'missing.example')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    });
  });

  describe('nonPublicHostReason (checked when a host is saved)', () => {
    it.each(['127.0.0.1', '127.1', '0x7f000001', '2130706433', '127.0.0.1.', '[::1]', '::1', '::ffff:127.0.0.1', '169.254.169.254', '10.0.0.5', '100.64.0.1', 'fd00::1', 'localhost', 'LocalHost.', 'smtp.localhost', 'fe80::1%eth0', '0177.0.0.1', '017700000001'])(
      '%s is refused',
      (host) => {
        expect(nonPublicHostReason(host)).toEqual(expect.any(String));
      },
    );
    it.each(['smtp.example.com', '8.8.8.8', '2606:4700:4700::1111', 'localhost.example.com'])('%s is left to the connection-time check', (host) => {
      expect(nonPublicHostReason(host)).toBeNull();
    });
  });

  describe('connectOutbound against a local listener', () => {
    let server: TcpServer;
    let port: number;
    let connections = 0;

    beforeAll(async () => {
      server = createTcpServer((socket) => {
        connections++;
        socket.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    beforeEach(() => (connections = 0));

    it('refuses a literal loopback address and a name resolving to it, opening no connection', async () => {
      const resolve = fakeResolver({ 'smtp.customer.example': ['127.0.0.1'] });
      for (const host of ['127.0.0.1', '[::1]', '::ffff:127.0.0.1', 'smtp.customer.example', 'localhost']) {
        await expect(connectOutbound(host, port, { allowPrivate: false, timeoutMs: 2000, resolve })).rejects.toBeInstanceOf(OutboundAddressError);
      }
      expect(resolve.asked).toEqual(['smtp.customer.example']);
      await new Promise((r) => setTimeout(r, 50));
      expect(connections).toBe(0);
    });

    it('connects through the given resolver when private addresses are allowed', async () => {
      const socket = await connectOutbound('smtp.customer.example', port, { allowPrivate: true, timeoutMs: 2000, resolve: fakeResolver({ 'smtp.customer.example': ['127.0.0.1'] }) });
      expect(socket.remoteAddress).toBe('127.0.0.1');
      socket.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(connections).toBe(1);
    });
  });

  describe('outboundFetch (OpenID providers) against a local server', () => {
    let server: Server;
    let port: number;
    let hits = 0;

    beforeAll(async () => {
      server = createServer((req, res) => {
        hits++;
        if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
        if (req.url === '/big') return void res.end('x'.repeat(5000));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, ua: req.headers['user-agent'] }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    beforeEach(() => (hits = 0));

    it('refuses loopback literals and names resolving to private addresses without connecting', async () => {
      const resolve = fakeResolver({ 'idp.customer.example': ['10.0.0.7'] });
      const fetchOut = outboundFetch({ allowPrivate: false, timeoutMs: 2000, maxBytes: 1000, userAgent: 't', resolve });
      for (const url of [`http://127.0.0.1:${port}/`, `http://[::1]:${port}/`, `http://idp.customer.example:${port}/`, `http://localhost:${port}/`]) {
        await expect(fetchOut(url)).rejects.toBeInstanceOf(OutboundAddressError);
      }
      await expect(fetchOut('file:///etc/passwd')).rejects.toThrow('unsupported protocol');
      expect(hits).toBe(0);
    });

    it('returns a standard Response, does not follow redirects, and caps the body', async () => {
      const fetchOut = outboundFetch({ allowPrivate: true, timeoutMs: 2000, maxBytes: 1000, userAgent: 'Plinth-Test', resolve: fakeResolver({ 'idp.customer.example': ['127.0.0.1'] }) });
      const ok = await fetchOut(`http://idp.customer.example:${port}/x`, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ method: 'POST', ua: 'Plinth-Test' });
      const redirect = await fetchOut(`http://idp.customer.example:${port}/redirect`);
      expect(redirect.status).toBe(302);
      expect(hits).toBe(2);
      await expect(fetchOut(`http://idp.customer.example:${port}/big`)).rejects.toThrow('larger than 1000 bytes');
    });
  });
});

describe('fetchOutbound (a function\'s fetch)', () => {
  const none = { method: 'GET', headers: [] as Array<[string, string]>, body: null };

  it('refuses literal non-public addresses in any spelling before connecting, and names that resolve to them', async () => {
    const resolve = fakeResolver({ 'internal.example': ['10.1.2.3'] });
    for (const url of ['http://127.0.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://2130706433/', 'http://[::ffff:7f00:1]/', 'http://0x7f.1/', 'http://localhost/', 'http://internal.example/']) {
      await expect(fetchOutbound(url, none, { allowPrivate: false, resolve, timeoutMs: 1000, maxBytes: 1000 })).rejects.toBeInstanceOf(OutboundAddressError);
    }
    expect(resolve.asked).toEqual(['internal.example']);
    await expect(fetchOutbound('file:///etc/passwd', none, { allowPrivate: true, timeoutMs: 1000, maxBytes: 1000 })).rejects.toThrow(/unsupported protocol/);
  });

  it('returns status, headers and body, sends the body, and refuses a response over the size cap', async () => {
    const server = createServer((req, res) => {
      let got = '';
      req.on('data', (c) => (got += c));
      req.on('end', () => {
        res.setHeader('x-got', got);
        res.end(req.url === '/big' ? 'x'.repeat(5000) : 'small');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await fetchOutbound(`${base}/`, { method: 'POST', headers: [['content-type', 'text/plain']], body: new TextEncoder().encode('hi') }, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000 });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('small');
      expect(r.headers).toContainEqual(['x-got', 'hi']);
      await expect(fetchOutbound(`${base}/big`, none, { allowPrivate: true, timeoutMs: 2000, maxBytes: 1000 })).rejects.toThrow(/larger than 1000 bytes/);
    } finally {
      server.close();
    }
  });
});
