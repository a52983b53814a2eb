import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigModule, loadConfig, PlinthConfig } from '@plinth/config';
import { DatabaseModule } from '@plinth/database';
import { OutboxModule, OutboxService } from '@plinth/jobs';

/**
 * Operator view of the dead-letter state:
 *   node dist/apps/worker/src/jobs-cli.js dead [orgId]     list dead jobs (all retries spent) with their last error
 *   node dist/apps/worker/src/jobs-cli.js redrive <id>     send a dead job round again with fresh attempts
 *   node dist/apps/worker/src/jobs-cli.js counts           outbox rows by status
 */
@Module({})
class JobsCliModule {
  static register(databaseUrl: string, config: PlinthConfig): DynamicModule {
    return { module: JobsCliModule, imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(databaseUrl), OutboxModule] };
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.database.url) throw new Error('jobs-cli needs DATABASE_URL');
  const ctx = await NestFactory.createApplicationContext(JobsCliModule.register(config.database.url, config), { logger: ['error'] });
  try {
    const outbox = ctx.get(OutboxService);
    const [cmd, arg] = process.argv.slice(2);
    if (cmd === 'dead') {
      for (const j of await outbox.listDead(arg)) {
        process.stdout.write(`${j.id}\t${j.queue}/${j.name}\torg=${j.org_id ?? '-'}\tattempts=${j.attempts}\t${j.last_error ?? ''}\n`);
      }
    } else if (cmd === 'redrive' && arg) {
      process.stdout.write((await outbox.redrive(arg)) ? `job ${arg} is pending again\n` : `job ${arg} is not dead\n`);
    } else if (cmd === 'counts') {
      process.stdout.write(`${JSON.stringify(await outbox.counts())}\n`);
    } else {
      process.stdout.write('usage: jobs-cli dead [orgId] | redrive <id> | counts\n');
      process.exitCode = 2;
    }
  } finally {
    await ctx.close();
  }
}

void main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
