import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@plinth/config';
import { ensureDatabase, runMigrations } from '@plinth/database';
import { WorkerModule } from './worker.module';

/** Runs the job processors on their own (with an external DATABASE_URL); `npm start` embeds them in the api. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.database.url) {
    process.stderr.write('The standalone worker needs DATABASE_URL; without it, `npm start` runs jobs inside the api.\n');
    process.exit(1);
  }
  await ensureDatabase(config.database.url, config.database.connectWaitMs);
  await runMigrations(config.database.url);
  const app = await NestFactory.createApplicationContext(WorkerModule.register(config, config.database.url));
  app.enableShutdownHooks();
  new Logger('Worker').log('Plinth worker running');
}

void main().catch((err) => {
  process.stderr.write(`Plinth worker failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
