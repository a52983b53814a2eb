import 'reflect-metadata';
import { loadConfigOrExit } from '@plinth/config';
import { EmbeddedPostgresError } from '@plinth/database';
import { createApiApp } from './app.factory';
import { prepareDatabase } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const db = await prepareDatabase(config);
  const withWorker = !config.redis.url;
  const app = await createApiApp(config, db.url, withWorker);
  await app.listen(config.http.port, config.http.host);
  const base = config.http.publicUrl;
  process.stdout.write(
    [
      '',
      `  Plinth is up${db.embedded ? ' (embedded Postgres' + (withWorker ? ', in-process jobs' : '') + ')' : ''}`,
      `  Console:  ${base}/   (sign up here)`,
      `  API:      ${base}/v1`,
      `  Docs:     ${base}/docs`,
      `  Health:   ${base}/healthz`,
      `  Sign up:  curl -X POST ${base}/v1/auth/signup -H 'content-type: application/json' -d '{"email":"you@example.com","password":"a-Str0ng-password"}'`,
      '',
    ].join('\n') + '\n',
  );
  // The app first (its last metering flush writes to the database), then the embedded Postgres.
  const stop = async () => {
    await app.close();
    await db.stop();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void stop());
}

void main().catch((err: unknown) => {
  // A cause a person can act on: our own wording alone, anything else with its stack.
  const said = err instanceof EmbeddedPostgresError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`Plinth failed to start: ${said}\n`);
  process.exit(1);
});
