import { DynamicModule, Module } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
import { BillingModule } from '@plinth/billing';
import { ConfigModule, PlinthConfig } from '@plinth/config';
import { DatabaseModule } from '@plinth/database';
import { GatewayFallbackModule, GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { JobsModule } from '@plinth/jobs';
import { DataRuntimeModule } from '@plinth/runtime-data';
import { AuthRuntimeModule } from '@plinth/runtime-auth';
import { TenancyModule } from '@plinth/tenancy';
import { HealthController } from './health.controller';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface ApiModuleOptions {
  config: PlinthConfig;
  databaseUrl: string;
  /** Run the worker's processors in this process (the embedded default, when there is no Redis). */
  withWorker: boolean;
  /** Where logs go (stdout by default); tests capture them. */
  logStream?: Writable;
}

/** The request id: the caller's `x-request-id` when sane, else a fresh UUID; echoed as `x-request-id`. */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/** Structured JSON logs with a request id on every line (also returned as `x-request-id`); never credentials. */
export function loggerModule(config: PlinthConfig, stream?: Writable) {
  return LoggerModule.forRoot({
    pinoHttp: {
      stream,
      level: config.log.level,
      genReqId: requestIdFor,
      redact: { paths: ['req.headers.authorization', 'req.headers.apikey', 'req.headers.cookie', 'res.headers["set-cookie"]'], censor: '[redacted]' },
      serializers: {
        // Query strings can carry tokens (e.g. links); log the path only.
        req: (req: { id: string; method: string; url: string; headers: Record<string, unknown> }) => ({
          id: req.id,
          method: req.method,
          path: req.url.split('?')[0],
          headers: req.headers,
        }),
      },
    },
  });
}

@Module({})
export class ApiModule {
  static register(options: ApiModuleOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(options.config),
        loggerModule(options.config, options.logStream),
        DatabaseModule.forRoot(options.databaseUrl),
        IdentityModule,
        TenancyModule,
        GatewayModule,
        DataRuntimeModule,
        AuthRuntimeModule,
        BillingModule,
        // Runtime modules go above this line: the fallback's catch-all must be registered last.
        GatewayFallbackModule,
        ...(options.withWorker ? [JobsModule] : []),
      ],
      controllers: [HealthController],
    };
  }
}
