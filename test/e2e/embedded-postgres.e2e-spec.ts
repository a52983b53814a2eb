import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';

interface Outcome {
  ready: boolean;
  code: number | null;
  stderr: string;
}

/** A process running test/support/embedded-child.ts: what `npm start` does with the embedded Postgres, alone. */
function child(dir: string, port: number, then?: 'exit'): { proc: ChildProcess; outcome: Promise<Outcome> } {
  const proc = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, '../support/embedded-child.ts'), dir, String(port), ...(then ? [then] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const outcome = new Promise<Outcome>((resolve) => {
    proc.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve({ ready: true, code: null, stderr }));
    proc.on('exit', (code) => resolve({ ready: false, code, stderr }));
  });
  return { proc, outcome };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npm start` on the embedded default must always come back: after the previous Plinth was killed (its Postgres
 * orphaned), and with a clear refusal, not "undefined", when another live Plinth uses the same data directory.
 * Each start runs in its own process, as `npm start` does.
 */
describe('embedded Postgres start-up', () => {
  const base = join(process.cwd(), `.plinth/test-embedded-${process.pid}`);
  const dir = join(base, 'pg');
  const port = 54397;
  const running: ChildProcess[] = [];
  const postmaster = () => Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const selectOne = async () => {
    const c = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/plinth` });
    await c.connect();
    try {
      return (await c.query('SELECT 1 AS one')).rows;
    } finally {
      await c.end();
    }
  };

  afterAll(async () => {
    for (const p of running) if (p.exitCode === null) p.kill('SIGKILL');
    if (existsSync(join(dir, 'postmaster.pid')) && alive(postmaster())) process.kill(postmaster(), 'SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    await rm(base, { recursive: true, force: true });
  });

  it('stops the Postgres a killed Plinth left running, and starts on the same data', async () => {
    const first = child(dir, port);
    running.push(first.proc);
    expect((await first.outcome).ready).toBe(true);
    const orphan = postmaster();
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    expect(alive(orphan)).toBe(true); // SIGKILL gave the old process no chance to stop its Postgres

    const next = child(dir, port);
    running.push(next.proc);
    const out = await next.outcome;
    expect(out).toMatchObject({ ready: true });
    expect(alive(orphan)).toBe(false);
    expect(postmaster()).not.toBe(orphan);
    expect(await selectOne()).toEqual([{ one: 1 }]);
  }, 120_000);

  it('refuses a second Plinth on a data directory a live one is using, saying why', async () => {
    const owner = running[running.length - 1];
    const second = child(dir, port);
    const out = await second.outcome;
    expect(out).toMatchObject({ ready: false, code: 1 });
    expect(out.stderr).toContain(`another Plinth (pid ${owner.pid}) is running on the embedded Postgres in ${dir}`);
    expect(await selectOne()).toEqual([{ one: 1 }]); // the running one is untouched
  }, 60_000);

  it('says what Postgres said when it cannot start (a port another server holds)', async () => {
    const other = child(join(base, 'other'), port);
    const out = await other.outcome;
    expect(out).toMatchObject({ ready: false, code: 1 });
    expect(out.stderr).toMatch(/the embedded Postgres did not start .*\n(.|\n)*Address already in use(.|\n)*set EMBEDDED_PG_PORT/);
  }, 120_000);

  it('stops its Postgres when told to stop, leaving nothing running', async () => {
    const owner = running[running.length - 1];
    const pid = postmaster();
    owner.kill('SIGTERM');
    await new Promise((r) => owner.once('exit', r));
    expect(alive(pid)).toBe(false);
    expect(existsSync(`${dir}.owner`)).toBe(false);
  }, 60_000);

  it('tells its Postgres to stop when the process exits without stopping it, and exits with its own code', async () => {
    const quick = child(dir, port, 'exit');
    expect((await quick.outcome).ready).toBe(true);
    const pid = postmaster();
    const code = await new Promise((r) => (quick.proc.exitCode !== null ? r(quick.proc.exitCode) : quick.proc.once('exit', r)));
    expect(code).toBe(0);
    const deadline = Date.now() + 15_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  }, 60_000);
});
