/**
 * A stand-in for `npm start`'s first step, run as its own process by test/e2e/embedded-postgres.e2e-spec.ts:
 * starts the embedded Postgres on the data directory and port given, prints "ready", and stops it on SIGTERM;
 * with `exit` it exits at once instead, without stopping it.
 *   node -r @swc-node/register test/support/embedded-child.ts <dir> <port> [exit]
 */
import { startEmbeddedPostgres } from '../../libs/database/src/embedded-postgres';

const [dir, port, then] = process.argv.slice(2);
const idle = setInterval(() => undefined, 60_000);
startEmbeddedPostgres(dir, Number(port), 'plinth').then(
  (db) => {
    process.once('SIGTERM', () => {
      clearInterval(idle);
      void db.stop().then(() => process.exit(0));
    });
    process.stdout.write('ready\n', () => then === 'exit' && process.exit(0));
  },
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
