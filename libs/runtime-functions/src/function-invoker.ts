import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlinthException, WireException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { scopeAllows, type TenantContext } from '@plinth/gateway';
import { METERS, MeteringService } from '@plinth/metering';
import { PlansService, TenantLimitsService } from '@plinth/quotas';
import { RestMethod, RestService } from '@plinth/runtime-data';
import { SendService, sendSchema } from '@plinth/runtime-notifications';
import { FunctionDirectory } from './function-directory';
import { FunctionLogs } from './function-logs';
import { FunctionSlots } from './function-slots';
import type { DeployedFunction } from './functions.repository';
import type { Readable } from 'node:stream';
import { PoolOutcome, RequestAborted, RequestTooLarge, RunnerLost, RunnerPool, RunnersUnavailable } from './runner-pool';
import type { DbOp, DbResult, InvokeOutcome, InvokeRequest, NotifyOp } from './runner-protocol';

/** A call of a function, from the edge, the rpc route or the scheduler. */
export interface FunctionCall {
  tenant: TenantContext;
  name: string;
  request: InvokeRequest;
  requestId: string;
  /** Only functions deployed with `rpc: true` (the rpc route); `read` also needs `rpc_read_only`. */
  rpc?: 'write' | 'read';
  /** The request body still to be read, streamed to the runner as it arrives (`request.body` is then null). */
  upload?: Readable;
}

/** The function's answer, as it goes on the wire. */
export interface FunctionAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array | null;
  /** A large body, streamed as it crosses from the runner (`chunked` bytes in all); `body` is then null. */
  stream?: Readable;
  chunked?: number;
}

/** A streamed request body may take at least this long to arrive, whatever the function's timeout. */
const UPLOAD_MIN_MS = 30_000;

const DB_METHODS = new Set(['GET', 'HEAD', 'POST', 'PATCH', 'DELETE']);

/** Errors in the shape the functions client (supabase-js `FunctionsHttpError`) reads: `{code, message}`. */
export function functionsError(status: number, code: string, message: string, extra: Record<string, unknown> = {}): WireException {
  return new WireException(status, { code, message, ...extra });
}

/**
 * Runs a deployed function for a caller: finds its current version, applies `verify_jwt`, the project's quota and
 * concurrency, hands the call to the runner pool with the caller's `env` (secrets, user, `env.db` acting as the
 * caller or as the service role), then meters it (`function_invocations`, `function_gb_seconds` = memory limit ×
 * wall time, `function_cpu_ms` = the isolate's CPU time during the call, fetch traffic as egress) and logs it.
 * Concurrency per project is counted by {@link FunctionSlots} (across instances with Redis).
 */
@Injectable()
export class FunctionInvoker {
  private readonly logger = new Logger(FunctionInvoker.name);
  private sendService: SendService | null | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly directory: FunctionDirectory,
    private readonly pool: RunnerPool,
    private readonly rest: RestService,
    private readonly metering: MeteringService,
    private readonly limits: TenantLimitsService,
    private readonly plans: PlansService,
    private readonly logs: FunctionLogs,
    private readonly slots: FunctionSlots,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** The deployed function, or undefined (no such function, or not reachable the way it is asked for). */
  async find(t: TenantContext, name: string, rpc?: 'write' | 'read'): Promise<DeployedFunction | undefined> {
    const fn = await this.directory.find(t.project.id, name);
    if (!fn) return undefined;
    if (rpc && (!fn.settings.rpc || (rpc === 'read' && !fn.settings.rpc_read_only))) return undefined;
    return fn;
  }

  async invoke(call: FunctionCall, fn: DeployedFunction): Promise<FunctionAnswer> {
    const t = call.tenant;
    if (fn.settings.verify_jwt && t.role !== 'authenticated' && t.role !== 'service') {
      throw functionsError(401, 'UNAUTHORIZED_NO_AUTH_HEADER', 'This function needs a signed-in user (verify_jwt): send the user\'s access token as Authorization: Bearer', {});
    }
    await this.limits.assertWithinQuota(t.project.id, t.project.orgId, [METERS.functionInvocations, METERS.functionGbSeconds]);
    const limit = this.concurrency(t);
    const release = await this.slots.acquire(t.project.id, limit, fn.settings.timeout_ms);
    if (!release) throw new PlinthException(ErrorCode.ConcurrencyLimited, `This project already runs ${limit} function calls at once; retry shortly`, undefined, { 'retry-after': '1' });
    const started = Date.now();
    let outcome: PoolOutcome | undefined;
    try {
      const [secrets] = await Promise.all([this.directory.projectSecrets(t.project.id)]);
      const user = t.user ? { ...t.user.claims, id: t.user.id } : null;
      outcome = await this.pool.invoke({
        key: `${t.project.id}:${fn.versionId}`,
        memoryMb: fn.settings.memory_mb,
        timeoutMs: fn.settings.timeout_ms,
        cpuMs: Math.min(this.config.functions.cpuMs, fn.settings.timeout_ms),
        request: call.request,
        env: { secrets, user },
        code: async () => {
          const code = await this.directory.compiled(fn.versionId);
          if (code === undefined) throw new Error('the version is gone');
          return code;
        },
        db: (op) => this.db(t, fn, op),
        notify: (op) => this.notify(t, fn, op),
        // The body's own deadline: the function's timeout, at least 30 s (a multi-MB upload on a slow link).
        upload: call.upload ? { stream: call.upload, limit: this.config.functions.maxRequestBytes, timeoutMs: Math.max(fn.settings.timeout_ms, UPLOAD_MIN_MS) } : undefined,
      });
      return this.answer(fn, call, outcome);
    } catch (e) {
      if (e instanceof RunnerLost) {
        this.record(fn, call, 502, started, undefined, e.message);
        throw functionsError(502, 'RUNNER_LOST', 'The function runner stopped during this call; retry it');
      }
      if (e instanceof RequestTooLarge) {
        this.record(fn, call, 413, started, undefined, e.message);
        throw functionsError(413, 'PAYLOAD_TOO_LARGE', e.message);
      }
      if (e instanceof RequestAborted) {
        // Nobody may be left to read this answer (a client gone mid-upload); the call is in the logs either way.
        this.record(fn, call, 408, started, undefined, e.message);
        throw functionsError(408, 'REQUEST_ABORTED', `The request body did not arrive: ${e.message}`);
      }
      if (e instanceof RunnersUnavailable) throw functionsError(503, 'FUNCTIONS_UNAVAILABLE', 'Functions are not available on this server');
      throw e;
    } finally {
      release();
      this.meter(t, fn, started, outcome);
    }
  }

  /** The project's concurrent calls: the plan's `function_concurrency`, within FUNCTION_CONCURRENCY. */
  private concurrency(t: TenantContext): number {
    const plan = this.plans.cachedForOrg(t.project.orgId);
    const own = plan?.limits.function_concurrency;
    return typeof own === 'number' && own > 0 ? Math.min(own, this.config.functions.concurrency) : this.config.functions.concurrency;
  }

  private answer(fn: DeployedFunction, call: FunctionCall, o: PoolOutcome): FunctionAnswer {
    if (o.response) {
      this.record(fn, call, o.response.status, Date.now() - o.wallMs, o);
      return o.stream ? { ...o.response, stream: o.stream } : o.response;
    }
    const f = o.failure!;
    if (f.kind === 'limit') {
      this.record(fn, call, 546, Date.now() - o.wallMs, o, f.message);
      throw functionsError(546, 'WORKER_LIMIT', f.message, { limit: f.limit });
    }
    const errorId = randomUUID();
    this.record(fn, call, 500, Date.now() - o.wallMs, o, `${f.message} (error id ${errorId})`);
    this.logger.warn({ errorId, project: call.tenant.project.ref, fn: fn.name }, `function threw: ${f.message}`);
    throw functionsError(500, 'FUNCTION_ERROR', 'The function threw an error; its logs have the details', { error_id: errorId });
  }

  private meter(t: TenantContext, fn: DeployedFunction, started: number, o: InvokeOutcome | undefined): void {
    const wallMs = o?.wallMs ?? Date.now() - started;
    this.metering.record(t.project.id, METERS.functionInvocations, 1);
    this.metering.record(t.project.id, METERS.functionGbSeconds, (fn.settings.memory_mb / 1024) * (wallMs / 1000));
    if (o?.cpuMs) this.metering.record(t.project.id, METERS.functionCpuMs, o.cpuMs);
    if (o?.fetchBytes) this.metering.record(t.project.id, `${METERS.egressBytes}:functions`, o.fetchBytes);
  }

  private record(fn: DeployedFunction, call: FunctionCall, status: number, started: number, o: InvokeOutcome | undefined, error?: string): void {
    const lines = o?.logs ?? [];
    this.logs.add({
      projectId: fn.projectId,
      functionName: fn.name,
      version: fn.version,
      requestId: call.requestId,
      level: error ? 'error' : lines.some((l) => l.level === 'error') ? 'error' : lines.some((l) => l.level === 'warn') ? 'warn' : 'log',
      status,
      durationMs: Math.round(o?.wallMs ?? Date.now() - started),
      cpuMs: Math.round(o?.cpuMs ?? 0),
      memoryMb: fn.settings.memory_mb,
      lines,
      error: error ?? null,
      at: new Date(started),
    });
  }

  /**
   * An `env.notify.send(...)` call: the notifications runtime's send, for the invocation's project only, with the
   * authority `POST /p/:ref/notifications/v1/send` asks for — the function deployed with `service_role`, or a caller
   * holding the secret key or a restricted key with `notifications:send`. Anyone else (anon, a signed-in end user)
   * gets a 403 error back in the function, and nothing is sent.
   */
  private async notify(t: TenantContext, fn: DeployedFunction, op: NotifyOp): Promise<DbResult> {
    const allowed = fn.settings.service_role || t.role === 'service' || (t.role === 'restricted' && scopeAllows({ scopes: t.restrictions }, 'notifications', 'send'));
    if (!allowed) return notifyError(403, 'forbidden', 'env.notify needs a function deployed with service_role, or a caller with the secret key or the notifications:send scope');
    const sends = this.sends();
    if (!sends) return notifyError(503, 'unavailable', 'Notifications are not available in this process');
    let input: unknown;
    try {
      input = JSON.parse(op.body);
    } catch {
      return notifyError(400, 'validation_failed', 'env.notify.send takes a JSON object');
    }
    const parsed = sendSchema.safeParse(input);
    if (!parsed.success) return notifyError(400, 'validation_failed', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ').slice(0, 1000));
    const as: TenantContext = fn.settings.service_role ? { ...t, role: 'service', user: null, restrictions: null } : t;
    try {
      return { status: 202, headers: {}, body: JSON.stringify(await sends.send(as, parsed.data)) };
    } catch (e) {
      if (e instanceof WireException) return { status: e.status, headers: {}, body: JSON.stringify(e.body) };
      if (e instanceof PlinthException) return notifyError(e.status, e.code, e.message);
      this.logger.error({ err: e }, 'env.notify failed');
      return notifyError(500, 'internal_error', 'env.notify failed');
    }
  }

  /** The notifications runtime's send service when this process has it (the api; the worker runs none). */
  private sends(): SendService | null {
    if (this.sendService === undefined) {
      try {
        this.sendService = this.moduleRef.get(SendService, { strict: false });
      } catch {
        this.sendService = null;
      }
    }
    return this.sendService ?? null;
  }

  /**
   * An `env.db` call: the data runtime's own request path (catalog, rules, one statement as the project's data role),
   * acting as the caller, or as the service role for a function deployed with `service_role`. The project is the
   * invocation's: nothing the function sends can name another.
   */
  private async db(t: TenantContext, fn: DeployedFunction, op: DbOp): Promise<DbResult> {
    const as: TenantContext = fn.settings.service_role ? { ...t, role: 'service', user: null, restrictions: null } : t;
    if (!DB_METHODS.has(op.method)) return postgrestError(400, 'PGRST100', `Unsupported method ${String(op.method).slice(0, 10)}`);
    let body: unknown;
    if (op.body !== null) {
      try {
        body = JSON.parse(op.body);
      } catch {
        return postgrestError(400, 'PGRST102', 'Empty or invalid json');
      }
    }
    try {
      const r = await this.rest.handle(as, { method: op.method as RestMethod, table: op.table, query: new URLSearchParams(op.query), headers: op.headers, body });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = String(v);
      return { status: r.status, headers, body: r.body };
    } catch (e) {
      if (e instanceof WireException) return { status: e.status, headers: {}, body: JSON.stringify(e.body) };
      if (e instanceof PlinthException) return postgrestError(e.status, e.code, e.message);
      this.logger.error({ err: e }, 'env.db failed');
      return postgrestError(500, 'PGRST000', 'env.db failed');
    }
  }
}

function notifyError(status: number, code: string, message: string): DbResult {
  return { status, headers: {}, body: JSON.stringify({ code, message }) };
}

function postgrestError(status: number, code: string, message: string): DbResult {
  return { status, headers: {}, body: JSON.stringify({ code, message, details: null, hint: null }) };
}
