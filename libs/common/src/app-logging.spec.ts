import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { AppLogging } from './app-logging';

describe(AppLogging.name, () => {
  const lines: Array<Record<string, unknown>> = [];
  let sut: AppLogging;

  beforeEach(() => {
    lines.length = 0;
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    sut = new AppLogging({ stream, level: 'info', genReqId: (req) => String(req.headers['x-request-id'] ?? 'generated') });
  });
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it('binds the request logger for what a route logs after async work, and logs the request once it ends', async () => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      sut.logRequests(req, res, () =>
        // A body parser resumes from stream events; the binding comes after it.
        setImmediate(() =>
          sut.bindRequestLogger(req, res, () => {
            setTimeout(() => {
              sut.nestLogger().log('inside the route', 'OrdersService');
              res.end('ok');
            }, 5);
          }),
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      await fetch(`http://127.0.0.1:${port}/v1/orders?token=secret`, { headers: { 'x-request-id': 'req-42' } });
      await settle();
    } finally {
      server.close();
    }
    const inside = lines.find((l) => l.msg === 'inside the route')!;
    expect(inside).toMatchObject({ level: 30, context: 'OrdersService', req: { id: 'req-42' } });
    expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({ req: { id: 'req-42' }, res: { statusCode: 200 } });
  });

  it('maps Nest calls onto pino: levels, context, objects, errors and the exception handler’s (message, stack, context)', async () => {
    const nest = sut.nestLogger();
    nest.log('plain', 'Boot');
    nest.warn({ job: 'x' }, 'Jobs');
    nest.error(new Error('thrown'), 'Worker');
    nest.error('failed', 'Error: failed\n    at somewhere (file.js:1:1)', 'ExceptionsHandler');
    nest.debug?.('hidden at info', 'Boot');
    await settle();
    expect(lines.map((l) => [l.level, l.context, l.msg ?? null])).toEqual([
      [30, 'Boot', 'plain'],
      [40, 'Jobs', null],
      [50, 'Worker', 'thrown'],
      [50, 'ExceptionsHandler', 'failed'],
    ]);
    expect(lines[1].job).toBe('x');
    expect((lines[3].err as { stack: string }).stack).toContain('at somewhere');
    expect(lines.every((l) => l.req === undefined)).toBe(true);
  });
});
