/**
 * Several api apps in one process, each listening on its own port with its own settings (how metering.bench.ts runs
 * its sides unless BENCH_TWIN=0; started by support.ts's startTwinServer):
 *   TWIN_APPS='[{"port":3961,"env":{"METERING_ENABLED":"true"}},…]' node -r @swc-node/register test/bench/twin-server.ts
 * The database is prepared (migrated, or embedded Postgres started) as `npm start` does, once.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { RunningDatabase } from '@plinth/database';

// The build the bench made (as `npm start` runs it), not the sources: a restart mid-bench runs the same code.
/* eslint-disable @typescript-eslint/no-require-imports */
const { loadConfig } = require('../../dist/libs/config/src') as typeof import('@plinth/config');
const { createApiApp } = require('../../dist/apps/api/src/app.factory') as typeof import('../../apps/api/src/app.factory');
const { prepareDatabase } = require('../../dist/apps/api/src/bootstrap') as typeof import('../../apps/api/src/bootstrap');
/* eslint-enable @typescript-eslint/no-require-imports */

async function main(): Promise<void> {
  const specs = JSON.parse(process.env.TWIN_APPS ?? '[]') as Array<{ port: number; env: Record<string, string> }>;
  const apps: INestApplication[] = [];
  let db: RunningDatabase | undefined;
  for (const spec of specs) {
    const config = loadConfig({ ...process.env, ...spec.env, PORT: String(spec.port) });
    db ??= await prepareDatabase(config);
    const app = await createApiApp(config, db.url, !config.redis.url);
    await app.listen(spec.port, config.http.host);
    apps.push(app);
  }
  const stop = async () => {
    for (const app of apps) await app.close();
    await db?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

void main().catch((err) => {
  process.stderr.write(`twin server failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
