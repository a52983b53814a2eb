import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Writable } from 'node:stream';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { PlinthConfig } from '@plinth/config';
import { PlinthExceptionFilter } from '@plinth/common';
import { ApiModule } from './api.module';
import { BodyParsers, TenantBodyInterceptor } from './body-parsers';
import { RestFastLane } from './rest-fast-lane';

/**
 * Builds the HTTP app (not listening yet): body parsers and limits (tenant bodies read only after the key is judged),
 * header and request timeouts, the error filter, OpenAPI at /docs and /docs.json, and the data fast lane in front of
 * Express.
 */
export async function createApiApp(
  config: PlinthConfig,
  databaseUrl: string,
  withWorker: boolean,
  logStream?: Writable,
  options: ApiAppOptions = {},
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.register({ config, databaseUrl, withWorker, logStream }), API_APP_OPTIONS);
  return configureApiApp(app, config, options);
}

export interface ApiAppOptions {
  restFastLane?: boolean;
}

/** How the api's Nest application is created (tests create it from a testing module with the same options). */
export const API_APP_OPTIONS = { bodyParser: false, bufferLogs: true } as const;

/** Everything {@link createApiApp} does to the application once Nest has created it. */
export function configureApiApp(app: NestExpressApplication, config: PlinthConfig, options: ApiAppOptions = {}): NestExpressApplication {
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.http.trustProxy);
  app.disable('x-powered-by');
  const bodies = new BodyParsers(config.http.bodyLimitBytes, ['application/json', 'application/*+json']);
  app.use(bodies.outsideTenantRoutes);
  app.useGlobalInterceptors(new TenantBodyInterceptor(bodies));
  app.useGlobalFilters(new PlinthExceptionFilter());
  // Shorter than Node's defaults (60 s for headers, 300 s for a whole request), so slow senders can't hold sockets.
  const server = app.getHttpServer() as Server;
  server.headersTimeout = config.http.headersTimeoutMs;
  server.requestTimeout = config.http.requestTimeoutMs;

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Plinth management API')
      .setDescription('Accounts, organizations, projects and API keys. Tenant APIs live under /p/:ref.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs.json' });
  // The tenant data plane skips Express's router and Nest's pipeline; everything else reaches Express unchanged.
  if (options.restFastLane !== false) new RestFastLane(app, config).install(app.getHttpServer());
  return app;
}
