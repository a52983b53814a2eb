import { channel } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, ServerResponse } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import type { PlinthConfig } from '@plinth/config';
import { MeteringService } from './metering.service';
import { periodEnd, periodStart } from './meters';
import type { UsageRepository, UsageRow } from './usage.repository';
import { TestClock } from '../../../test/support/test-clock';

/** An in-memory usage store with the repository's batch-id semantics, that can be told to fail. */
class FakeUsageRepository {
  readonly applied = new Set<string>();
  readonly rows: UsageRow[] = [];
  failNext = 0;
  commitThenFail = false;

  async applyBatch(id: string, rows: UsageRow[]): Promise<boolean> {
    if (this.failNext > 0) {
      this.failNext--;
      if (!this.commitThenFail) throw new Error('connection lost');
      this.apply(id, rows); // committed, but the answer never arrived
      throw new Error('connection lost after commit');
    }
    return this.apply(id, rows);
  }

  private apply(id: string, rows: UsageRow[]): boolean {
    if (this.applied.has(id)) return false;
    this.applied.add(id);
    this.rows.push(...rows);
    return true;
  }

  async totals(projectIds: string[], from: Date, to: Date) {
    const sums = new Map<string, number>();
    for (const r of this.rows) {
      if (!projectIds.includes(r.projectId) || r.minute < from.getTime() || r.minute >= to.getTime()) continue;
      const m = r.meter.split(':')[0];
      sums.set(m, (sums.get(m) ?? 0) + r.quantity);
    }
    return [...sums].map(([meter, quantity]) => ({ project_id: projectIds[0], meter, quantity }));
  }

  sum(meter: string): number {
    return this.rows.filter((r) => r.meter === meter).reduce((n, r) => n + r.quantity, 0);
  }
}

describe(MeteringService.name, () => {
  const config = { metering: { enabled: true, flushMs: 1000, quotaRefreshMs: 60_000 } } as PlinthConfig;
  let repo: FakeUsageRepository;
  let sut: MeteringService;

  beforeEach(() => {
    repo = new FakeUsageRepository();
    sut = new MeteringService(config, repo as unknown as UsageRepository, new TestClock());
  });

  afterEach(() => sut.onApplicationShutdown());

  /** What Node's HTTP server reports when a response finishes (what the service listens to). */
  const finish = (response: object, socket: object) => channel('http.server.response.finish').publish({ request: {}, response, socket, server: {} });

  it('writes nothing per request, and everything once per flush', async () => {
    for (let i = 0; i < 1000; i++) sut.record('p1', 'requests:rest', 1);
    expect(repo.rows).toHaveLength(0);
    await sut.flush();
    expect(repo.sum('requests:rest')).toBe(1000);
    expect(repo.applied.size).toBe(1);
    await sut.flush(); // nothing new: no batch
    expect(repo.applied.size).toBe(1);
  });

  it('keeps one row per project, meter and minute, across minutes and projects', async () => {
    const clock = new TestClock();
    sut = new MeteringService(config, repo as unknown as UsageRepository, clock);
    const minute = Date.UTC(2026, 4, 1, 12, 0);
    clock.set(new Date(minute + 10_000));
    sut.record('p1', 'requests:rest', 1);
    sut.record('p2', 'requests:rest', 2);
    sut.record('p1', 'requests:rest', 3);
    sut.record('p1', 'egress_bytes', 100);
    clock.set(new Date(minute + 60_000));
    sut.record('p1', 'requests:rest', 4);
    sut.record('p1', 'requests:rest', 0); // nothing
    await sut.flush();
    clock.set(new Date(minute + 70_000));
    sut.record('p1', 'requests:rest', 5); // same minute as before the flush: a new batch, added by the upsert
    await sut.flush();
    const rows = repo.rows.map((r) => `${r.projectId} ${r.meter} ${r.minute - minute} ${r.quantity}`).sort();
    expect(rows).toEqual(['p1 egress_bytes 0 100', 'p1 requests:rest 0 4', 'p1 requests:rest 60000 4', 'p1 requests:rest 60000 5', 'p2 requests:rest 0 2']);
    expect(repo.applied.size).toBe(2);
  });

  it('counts each finished tenant response once with its bytes, and not the ones refused by limits (402, 429)', async () => {
    // One keep-alive connection: each response's bytes are what its socket took since the one before finished.
    const socket = { bytesWritten: 0 };
    const respond = (status: number, bytes: number, tenant = true) => {
      const res = { socket, statusCode: status };
      if (tenant) sut.trackResponse(res as unknown as ServerResponse, 'p1', 'rest');
      socket.bytesWritten += bytes;
      finish(res, socket);
    };
    respond(200, 300);
    respond(200, 5000, false); // not a tenant request: neither counted nor billed to the next one
    respond(404, 50);
    respond(402, 80);
    respond(429, 90);
    const totals = await sut.periodTotals('p1');
    respond(201, 20);
    expect(totals.get('requests')).toBe(3);
    expect(totals.get('egress_bytes')).toBe(370);
    await sut.flush();
    expect(repo.sum('requests:rest')).toBe(3);
    expect(repo.sum('egress_bytes')).toBe(370);
  });

  it("counts a real HTTP server's tracked responses with every byte written, and not its other responses", async () => {
    const server = createServer((req, res) => {
      if (req.url === '/tenant') sut.trackResponse(res, 'p1', 'rest');
      res.setHeader('content-type', 'text/plain');
      res.end('x'.repeat(1000));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    /** Bytes the client received for one request on its own connection. */
    const fetchRaw = async (path: string) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.end(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`);
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      await once(socket, 'close');
      return received;
    };
    /** The responses to requests sent at once (pipelined) on one keep-alive connection, as received. */
    const pipelined = async (paths: string[]) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.end(paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: test\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join(''));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      await once(socket, 'close');
      return text.split(/(?=HTTP\/1\.1 )/);
    };
    /** The sizes of the responses to requests sent one after another, each when the one before is answered. */
    const keepAlive = async (paths: string[]) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      const sizes: number[] = [];
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      for (const path of paths) {
        text = '';
        socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
        while (!text.endsWith('x'.repeat(1000))) await once(socket, 'data');
        sizes.push(text.length);
      }
      socket.end();
      return sizes;
    };
    try {
      const bytes = (await fetchRaw('/tenant')) + (await fetchRaw('/tenant'));
      await fetchRaw('/console'); // not a tenant request
      const totals = await sut.periodTotals('p1');
      expect(totals.get('requests')).toBe(2);
      expect(totals.get('egress_bytes')).toBe(bytes);
      expect(bytes).toBeGreaterThan(2000);
      // Tenant and other responses on one connection: each tenant response counts its own bytes only.
      const responses = await pipelined(['/console', '/tenant', '/console', '/tenant']);
      expect(responses).toHaveLength(4);
      expect(totals.get('requests')).toBe(4);
      expect(totals.get('egress_bytes')).toBe(bytes + responses[1].length + responses[3].length);
      // The same one after another on a keep-alive connection (a response in its socket's slot).
      const sequential = await keepAlive(['/tenant', '/console', '/tenant', '/tenant']);
      expect(totals.get('requests')).toBe(7);
      expect(totals.get('egress_bytes')).toBe(bytes + responses[1].length + responses[3].length + sequential[0] + sequential[2] + sequential[3]);
    } finally {
      server.close();
    }
  });

  it('counts a response that finishes after a flush or in a later minute, once, in the minute it finished', async () => {
    const clock = new TestClock();
    sut = new MeteringService(config, repo as unknown as UsageRepository, clock);
    const minute = Date.UTC(2026, 4, 1, 12, 0);
    clock.set(new Date(minute + 1_000));
    const track = () => {
      const socket = { bytesWritten: 0 };
      const res = { socket, statusCode: 200 };
      sut.trackResponse(res as unknown as ServerResponse, 'p1', 'rest');
      return () => {
        socket.bytesWritten += 10;
        finish(res, socket);
      };
    };
    const early = track();
    const late = track();
    early();
    await sut.flush(); // the project's counter is drained
    await sut.flush(); // and dropped as idle while `late` is still in flight
    clock.set(new Date(minute + 61_000));
    late();
    track()();
    await sut.flush();
    const rows = repo.rows.map((r) => `${r.meter} ${r.minute - minute} ${r.quantity}`).sort();
    expect(rows).toEqual(['egress_bytes 0 10', 'egress_bytes 60000 20', 'requests:rest 0 1', 'requests:rest 60000 2']);
  });

  it('retries a failed flush with the same batch id, so it adds once even if the first try committed', async () => {
    sut.record('p1', 'requests:rest', 5);
    repo.failNext = 1;
    repo.commitThenFail = true;
    await expect(sut.flush()).rejects.toThrow('after commit');
    sut.record('p1', 'requests:rest', 2);
    await sut.flush();
    expect(repo.sum('requests:rest')).toBe(7);
  });

  it('keeps counts across a flush that failed before committing', async () => {
    sut.record('p1', 'egress_bytes', 100);
    repo.failNext = 1;
    await expect(sut.flush()).rejects.toThrow('connection lost');
    await sut.flush();
    expect(repo.sum('egress_bytes')).toBe(100);
  });

  it('holds admitted requests in flight until their responses finish, then in the totals: never both, never neither', async () => {
    const totals = await sut.periodTotals('p1');
    const sockets = [{ bytesWritten: 0 }, { bytesWritten: 0 }, { bytesWritten: 0 }];
    // The socket's first response is tracked in the WeakMap, later ones in the socket's slot: both paths.
    finish({ statusCode: 200 }, sockets[2]);
    const responses = sockets.map((socket, i) => ({ socket, statusCode: i === 1 ? 429 : 200 }));
    for (const res of responses) {
      sut.trackResponse(res as unknown as ServerResponse, 'p1', 'rest');
      sut.countAdmitted(res, 'p1');
    }
    expect(sut.admittedInFlight('p1')).toBe(3);
    expect(totals.get('requests') ?? 0).toBe(0);
    finish(responses[0], sockets[0]);
    expect([sut.admittedInFlight('p1'), totals.get('requests')]).toEqual([2, 1]);
    finish(responses[1], sockets[1]); // refused by a rate limit after the quota check: leaves, isn't billed
    finish(responses[2], sockets[2]);
    expect([sut.admittedInFlight('p1'), totals.get('requests')]).toEqual([0, 2]);
    expect(sut.admittedInFlight('other')).toBe(0);
  });

  it('lets an admission whose response never finishes go after two epochs at most', () => {
    const clock = new TestClock();
    sut = new MeteringService(config, repo as unknown as UsageRepository, clock);
    sut.countAdmitted({ socket: null }, 'p1');
    clock.travel(30_000);
    sut.countAdmitted({ socket: null }, 'p1');
    expect(sut.admittedInFlight('p1')).toBe(2);
    clock.travel(30_000);
    expect(sut.admittedInFlight('p1')).toBe(1);
    clock.travel(60_000);
    expect(sut.admittedInFlight('p1')).toBe(0);
  });

  it('gives live period totals: stored + unflushed + counted since, without double counting across flushes', async () => {
    sut.record('p1', 'requests:rest', 3);
    await sut.flush();
    sut.record('p1', 'requests:auth', 2);
    const totals = await sut.periodTotals('p1');
    expect(totals.get('requests')).toBe(5);
    sut.record('p1', 'requests:rest', 1);
    expect(totals.get('requests')).toBe(6);
    await sut.flush();
    sut.forget('p1');
    expect((await sut.periodTotals('p1')).get('requests')).toBe(6);
  });

  it('keeps enforcing the last known totals when the database cannot be read (quotas fail closed)', async () => {
    const fast = { metering: { ...config.metering, quotaRefreshMs: 0 } } as PlinthConfig;
    sut = new MeteringService(fast, repo as unknown as UsageRepository, new TestClock());
    sut.record('p1', 'requests:rest', 9);
    await sut.flush();
    expect((await sut.periodTotals('p1')).get('requests')).toBe(9);
    repo.totals = async () => {
      throw new Error('database down');
    };
    await new Promise((r) => setTimeout(r, 1));
    sut.record('p1', 'requests:rest', 1);
    expect((await sut.periodTotals('p1')).get('requests')).toBe(10);
    await new Promise((r) => setTimeout(r, 5)); // the failed background refresh
    expect((await sut.periodTotals('p1')).get('requests')).toBe(10);
  });

  it('starts a new period at the first of the next UTC month', async () => {
    const clock = new TestClock();
    sut = new MeteringService(config, repo as unknown as UsageRepository, clock);
    clock.set(new Date('2026-03-31T23:59:30Z'));
    sut.record('p1', 'requests:rest', 4);
    expect((await sut.periodTotals('p1')).get('requests')).toBe(4);
    clock.set(new Date('2026-04-01T00:00:10Z'));
    expect((await sut.periodTotals('p1')).get('requests') ?? 0).toBe(0);
    expect(periodStart(Date.parse('2026-04-15T12:00:00Z')).toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(periodEnd(Date.parse('2026-12-15T12:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});
