import 'reflect-metadata';
import { DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BillingModule, StripeCatalogService } from '@plinth/billing';
import { ConfigModule, loadConfigOrExit, PlinthConfig } from '@plinth/config';
import { DatabaseModule } from '@plinth/database';
import { prepareDatabase } from './bootstrap';

@Module({})
class StripeSyncModule {
  static register(config: PlinthConfig, databaseUrl: string): DynamicModule {
    return { module: StripeSyncModule, imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(databaseUrl), BillingModule] };
  }
}

/**
 * `npm run stripe:sync`: creates or finds, in the Stripe account of STRIPE_SECRET_KEY, the Billing Meters,
 * products and prices of the price book. Idempotent: a second run finds everything and creates nothing.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.billing.stripe) {
    process.stderr.write('STRIPE_SECRET_KEY is not set: billing runs ledger-only and there is nothing to sync.\n');
    process.exit(1);
  }
  const db = await prepareDatabase(config);
  const app = await NestFactory.createApplicationContext(StripeSyncModule.register(config, db.url), { logger: ['error', 'warn'] });
  try {
    const summary = await app.get(StripeCatalogService).sync();
    process.stdout.write(
      `${JSON.stringify({ meters: summary.meters, prices: summary.prices, created: summary.created }, null, 2)}\n` +
        (summary.created.length ? `Created ${summary.created.length} object(s).\n` : 'Everything already existed; nothing created.\n'),
    );
  } finally {
    await app.close();
    await db.stop();
  }
}

void main().catch((err) => {
  process.stderr.write(`stripe:sync failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
