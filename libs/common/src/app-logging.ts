import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { HttpLogger, Options, pinoHttp } from 'pino-http';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * The api's logging: one pino-http instance, whose logger is the root of every line (so one set of serializers and
 * redaction, one transport); Nest's routes log each request through it and get a request-bound child logger (request
 * id, method, path) for everything logged while they run; {@link nestLogger} is Nest's LoggerService on top. It
 * replaces nestjs-pino (whose releases from 5.0 require Node ≥ 22.12, while Plinth runs on 20.19+), keeping its line
 * format: `context` from Nest's logger, `err` for errors, the request's `req` on lines logged within a request.
 */
export class AppLogging {
  readonly http: HttpLogger;
  private readonly scope = new AsyncLocalStorage<Pino>();

  constructor(options: Options) {
    this.http = pinoHttp(options);
  }

  /** The root logger (the tenant edge logs its requests on it). */
  get root(): Pino {
    return this.http.logger;
  }

  /** Express middleware for Nest's routes, first of all: the request's id and child logger, and its line when it ends. */
  readonly logRequests = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    this.http(req, res);
    next();
  };

  /**
   * Express middleware after the body parsers: what the route logs goes through the request's logger. After them
   * because a parser resumes from the body stream's events, outside any context bound before it.
   */
  readonly bindRequestLogger = (req: IncomingMessage, _res: ServerResponse, next: () => void): void => {
    const log = (req as IncomingMessage & { log?: Pino }).log;
    if (log) this.scope.run(log, next);
    else next();
  };

  /** Nest's logger (`app.useLogger`): writes through the current request's logger, or the root outside one. */
  nestLogger(): LoggerService {
    return new PinoNestLogger(() => this.scope.getStore() ?? this.root);
  }
}

/** Nest's LoggerService on pino, with Nest's calling conventions: the last extra argument is the context. */
class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: () => Pino) {}

  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('trace', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  log(message: unknown, ...rest: unknown[]): void {
    this.write('info', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: Level, message: unknown, rest: unknown[]): void {
    const log = this.logger();
    const fields: Record<string, unknown> = {};
    let params = rest;
    if (rest.length) {
      fields.context = rest[rest.length - 1];
      params = rest.slice(0, -1);
    }
    if (message instanceof Error) {
      fields.err = message;
      log[level](fields, ...(params as []));
    } else if (typeof message === 'object' && message !== null) {
      log[level]({ ...fields, ...message }, ...(params as []));
    } else if (level === 'error' && params.length === 1 && typeof params[0] === 'string' && /\n\s*at /.test(params[0])) {
      // Nest's exception handlers call error(message, stack, context): keep the stack as the error's.
      const err = new Error(String(message));
      err.stack = params[0];
      log[level]({ ...fields, err });
    } else {
      log[level](fields, String(message), ...(params as []));
    }
  }
}
