import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Writable } from 'node:stream';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { PlinthConfig } from '@plinth/config';
import { AppLogging, openApiComponents, PlinthExceptionFilter } from '@plinth/common';
import { ApiModule } from './api.module';
import { TenantEdge } from '@plinth/gateway';
import { bodyParsers } from './body-parsers';
import { QuietBootLogger } from './quiet-boot-logger';

/**
 * Builds the HTTP app (not listening yet): the tenant edge in front of Nest for `/p/…` (every runtime's routes), and
 * Nest for the rest (`/v1`, `/healthz`, `/docs`) with its body parsers and limits, header and request timeouts, the
 * error filter, OpenAPI at /docs and /docs.json.
 */
export async function createApiApp(
  config: PlinthConfig,
  databaseUrl: string,
  withWorker: boolean,
  logStream?: Writable,
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.register({ config, databaseUrl, withWorker, logStream }), API_APP_OPTIONS);
  return configureApiApp(app, config);
}

/** How the api's Nest application is created (tests create it from a testing module with the same options). */
export const API_APP_OPTIONS = { bodyParser: false, bufferLogs: true } as const;

/** Everything {@link createApiApp} does to the application once Nest has created it. */
export function configureApiApp(app: NestExpressApplication, config: PlinthConfig): NestExpressApplication {
  const logging = app.get(AppLogging);
  app.useLogger(config.env === 'development' ? new QuietBootLogger(logging.nestLogger()) : logging.nestLogger());
  app.set('trust proxy', config.http.trustProxy);
  app.disable('x-powered-by');
  // Every request Nest serves is logged (body-parser refusals too), and what its route logs carries its id.
  app.use(logging.logRequests);
  for (const parser of bodyParsers(config.http.bodyLimitBytes, ['application/json', 'application/*+json'])) app.use(parser);
  app.use(logging.bindRequestLogger);
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
  // Recursive schemas (JSON values) are references into components; the zod decorators collected them.
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ...(openApiComponents() as Record<string, object>) } };
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs.json' });
  // Tenant routes never reach Nest: the edge is their only implementation (see TenantEdge for the steps).
  app.get(TenantEdge).install(server, logging.root);
  return app;
}
