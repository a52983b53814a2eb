/**
 * Parse Server for the data benchmark's third column: stock parse-server (Express) on its Postgres adapter, in its
 * own process like the bare server, mounted at /parse. Clients use the app id and the REST API key (the equivalent of
 * Plinth's publishable key); the master key is for seeding and the class schema only. Run by data.bench.ts:
 *   PARSE_DB_URL=postgres://…/plinth_bench_parse PARSE_PORT=3952 PARSE_LOGS=… node -r @swc-node/register test/bench/parse-server.ts
 */
import express from 'express';
import type ParseServerClass from 'parse-server';

export const PARSE_APP_ID = 'plinth-bench';
export const PARSE_MASTER_KEY = 'plinth-bench-master';
export const PARSE_REST_KEY = 'plinth-bench-rest';

async function main(): Promise<void> {
  // Loaded here, not at the top: data.bench.ts imports this file for the keys, and merely loading parse-server sets
  // up its default file logger under ./logs.
  const { default: ParseServer } = (await import('parse-server')) as unknown as { default: typeof ParseServerClass };
  const port = Number(process.env.PARSE_PORT ?? 3952);
  const server = new ParseServer({
    databaseURI: process.env.PARSE_DB_URL!,
    appId: PARSE_APP_ID,
    masterKey: PARSE_MASTER_KEY,
    maintenanceKey: 'plinth-bench-maintenance',
    restAPIKey: PARSE_REST_KEY,
    serverURL: `http://127.0.0.1:${port}/parse`,
    // Like Plinth's declared tables: clients can't create classes or fields, only use the declared one.
    allowClientClassCreation: false,
    logsFolder: process.env.PARSE_LOGS ?? './.plinth/bench/parse-logs',
    logLevel: 'error',
    // functions.bench.ts: Cloud Code (Parse.Cloud.define) for its comparison.
    // Its queries go over HTTP to this server: in-process (directAccess) they fail in PromiseRouter.match on Express 5
    // (parse-server 9.10), the same TypeError data.bench.ts meets on /parse/batch.
    ...(process.env.PARSE_CLOUD ? { cloud: process.env.PARSE_CLOUD, directAccess: false, javascriptKey: 'plinth-bench-js' } : {}),
    silent: true,
  });
  await server.start();
  const app = express();
  app.use('/parse', server.app);
  app.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

// data.bench.ts imports the keys above; only the forked process serves.
if (require.main === module) {
  void main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
