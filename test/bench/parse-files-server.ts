/**
 * Parse Server's files API with its file-system adapter (@parse/fs-files-adapter), for the storage benchmark's third
 * column: stock parse-server (Express) in its own process, mounted at /parse, its Postgres adapter for the rest.
 *   PARSE_DB_URL=postgres://…/plinth_bench_parse_files PARSE_PORT=3962 PARSE_FILES_DIR=/tmp/x node -r @swc-node/register test/bench/parse-files-server.ts
 */
import express from 'express';
import type ParseServerClass from 'parse-server';
import { PARSE_APP_ID, PARSE_MASTER_KEY, PARSE_REST_KEY } from './parse-server';

async function main(): Promise<void> {
  const { default: ParseServer } = (await import('parse-server')) as unknown as { default: typeof ParseServerClass };
  // The adapter ships no types.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const FSFilesAdapter = require('@parse/fs-files-adapter') as new (o: { filesSubDirectory?: string }) => unknown;
  const port = Number(process.env.PARSE_PORT ?? 3962);
  process.chdir(process.env.PARSE_FILES_DIR!);
  const server = new ParseServer({
    databaseURI: process.env.PARSE_DB_URL!,
    appId: PARSE_APP_ID,
    masterKey: PARSE_MASTER_KEY,
    maintenanceKey: 'plinth-bench-maintenance',
    restAPIKey: PARSE_REST_KEY,
    serverURL: `http://127.0.0.1:${port}/parse`,
    filesAdapter: new FSFilesAdapter({}) as never,
    maxUploadSize: '200mb',
    fileUpload: { enableForPublic: true, enableForAnonymousUser: true, enableForAuthenticatedUser: true },
    logsFolder: process.env.PARSE_LOGS ?? './parse-logs',
    logLevel: 'error',
    silent: true,
  });
  await server.start();
  const app = express();
  app.use('/parse', server.app);
  app.listen(port, '127.0.0.1', () => process.send?.('ready'));
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
