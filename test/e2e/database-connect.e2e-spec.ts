import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { ensureDatabase } from '../../libs/database/src/embedded-postgres';

/** A free port on 127.0.0.1 (taken, read, released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A process started beside its database (compose, Kubernetes) must wait for it: the first connection is retried
 * while the server isn't reachable yet. The "late database" is a TCP relay to the test's real Postgres that starts
 * listening only after a while.
 */
describe('start-up against a database that comes up late', () => {
  const real = new URL(process.env.PLINTH_TEST_SERVER_URL!);
  let relay: Server | undefined;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    if (relay) await new Promise((r) => relay!.close(r));
  });

  function urlOn(port: number): string {
    const u = new URL(process.env.PLINTH_TEST_DATABASE_URL!);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  }

  it('retries the first connection until the server listens, then goes on', async () => {
    const port = await freePort();
    let connections = 0;
    const started = Date.now();
    setTimeout(() => {
      relay = createServer((client) => {
        connections++;
        const upstream = new Socket();
        sockets.push(client, upstream);
        upstream.connect(Number(real.port || 5432), real.hostname, () => {
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      }).listen(port, '127.0.0.1');
    }, 1200);
    await ensureDatabase(urlOn(port), 20_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
    expect(connections).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('fails at once without a wait', async () => {
    const port = await freePort();
    const started = Date.now();
    await expect(ensureDatabase(urlOn(port), 0)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
