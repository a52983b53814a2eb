import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { BillingModule } from '@plinth/billing';
import { AppLogging } from '@plinth/common';
import { ConfigModule, PlinthConfig } from '@plinth/config';
import { DatabaseModule } from '@plinth/database';
import { GatewayModule, requestIdFor } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { JobsModule } from '@plinth/jobs';
import { DataRuntimeModule } from '@plinth/runtime-data';
import { AuthRuntimeModule } from '@plinth/runtime-auth';
import { TenancyModule } from '@plinth/tenancy';
import { HealthController } from './health.controller';

export interface ApiModuleOptions {
  config: PlinthConfig;
  databaseUrl: string;
  /** Run the worker's processors in this process (the embedded default, when there is no Redis). */
  withWorker: boolean;
  /** Where logs go (stdout by default); tests capture them. */
  logStream?: Writable;
}

/**
 * Structured JSON logs with a request id on every line (also returned as `x-request-id`); never credentials. The
 * tenant edge logs its requests through the same root logger, with these serializers and this redaction.
 */
export function appLogging(config: PlinthConfig, stream?: Writable): AppLogging {
  return new AppLogging({
    stream,
    ...(prettyLogs(config, stream) ? { transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,req.headers,res.headers' } } } : {}),
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
  });
}

/** The app's {@link AppLogging}, one per application (so each test app logs to its own stream). */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(logging: AppLogging): DynamicModule {
    return { module: LoggingModule, providers: [{ provide: AppLogging, useValue: logging }], exports: [AppLogging] };
  }
}

/**
 * Human-readable log lines for a person at a terminal in development (pino-pretty, a development dependency, when
 * installed); JSON lines everywhere else: production, tests, and output piped to a file or a log collector.
 */
function prettyLogs(config: PlinthConfig, stream: Writable | undefined): boolean {
  if (stream !== undefined || config.env !== 'development' || !process.stdout.isTTY) return false;
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

@Module({})
export class ApiModule {
  static register(options: ApiModuleOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(options.config),
        LoggingModule.forRoot(appLogging(options.config, options.logStream)),
        DatabaseModule.forRoot(options.databaseUrl),
        IdentityModule,
        TenancyModule,
        GatewayModule,
        DataRuntimeModule,
        AuthRuntimeModule,
        BillingModule,
        ...(options.withWorker ? [JobsModule] : []),
      ],
      controllers: [HealthController],
    };
  }
}
