import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlansService } from '@plinth/quotas';
import { ProjectEntity, ProjectsService } from '@plinth/tenancy';
import { CompileError, compileFunction } from './compile-function';
import type { FunctionAdmin } from './function-admin.guard';
import { FunctionDirectory } from './function-directory';
import { FunctionLogs } from './function-logs';
import { FunctionSecretBox } from './function-secret-box';
import { DeployFunctionInput, functionNameSchema, LogsQuery, PutSecretsInput, RollbackInput } from './functions.dto';
import { FunctionSettings, FunctionsRepository } from './functions.repository';

/** A function as the management API shows it. */
export interface FunctionView {
  name: string;
  version: number;
  language: string;
  settings: FunctionSettings;
  created_at: string;
  updated_at: string;
}

/**
 * The management of a project's functions: deploy (compile, cap settings by plan, store an immutable version and
 * make it current), list, versions, rollback, delete; sealed secrets; logs. Console users need the project's
 * `update` permission (developer and up) to change anything and `read` to look; the secret key may do both.
 */
@Injectable()
export class FunctionsService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: FunctionsRepository,
    private readonly projects: ProjectsService,
    private readonly plans: PlansService,
    private readonly box: FunctionSecretBox,
    private readonly directory: FunctionDirectory,
    private readonly logs: FunctionLogs,
  ) {}

  async list(a: FunctionAdmin, ref: string): Promise<FunctionView[]> {
    const p = await this.project(a, ref, 'read');
    return (await this.repo.list(p.id)).map((f) => ({ name: f.name, version: f.current_version, language: f.language, settings: f.settings, created_at: iso(f.created_at), updated_at: iso(f.updated_at) }));
  }

  async get(a: FunctionAdmin, ref: string, name: string): Promise<FunctionView & { source: string }> {
    const p = await this.project(a, ref, 'read');
    const f = await this.found(p, name);
    const [v] = (await this.repo.versions(f.id)).filter((x) => x.version === f.current_version);
    const source = (await this.repo.source(f.id, f.current_version)) ?? '';
    return { name: f.name, version: f.current_version, language: v.language, settings: v.settings, source, created_at: iso(f.created_at), updated_at: iso(f.updated_at) };
  }

  async deploy(a: FunctionAdmin, ref: string, name: string, input: DeployFunctionInput): Promise<FunctionView> {
    const p = await this.project(a, ref, 'update');
    checkName(name);
    if (Buffer.byteLength(input.source) > this.config.functions.maxSourceBytes) {
      throw new PlinthException(ErrorCode.PayloadTooLarge, `The source is larger than ${this.config.functions.maxSourceBytes} bytes`);
    }
    let compiled: string;
    try {
      compiled = compileFunction(input.source, input.language);
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      const where = e.line !== null ? ` at line ${e.line}, column ${e.column}` : '';
      throw new PlinthException(ErrorCode.ValidationFailed, `The function does not compile${where}: ${e.message}`, [{ path: 'source', message: e.message, line: e.line, column: e.column }]);
    }
    const settings = await this.settings(p, input);
    const version = await this.repo.deploy(p.id, name, { language: input.language, source: input.source, compiled, settings, createdBy: actorOf(a) });
    this.directory.invalidate(p.id, name);
    const f = (await this.repo.find(p.id, name))!;
    return { name, version, language: input.language, settings, created_at: iso(f.created_at), updated_at: iso(f.updated_at) };
  }

  async versions(a: FunctionAdmin, ref: string, name: string) {
    const p = await this.project(a, ref, 'read');
    const f = await this.found(p, name);
    return (await this.repo.versions(f.id)).map((v) => ({ version: v.version, current: v.version === f.current_version, language: v.language, settings: v.settings, created_at: iso(v.created_at) }));
  }

  async rollback(a: FunctionAdmin, ref: string, name: string, input: RollbackInput): Promise<FunctionView> {
    const p = await this.project(a, ref, 'update');
    const f = await this.found(p, name);
    if (!(await this.repo.rollback(f.id, input.version))) throw PlinthException.notFound(`Version ${input.version} of function "${name}"`);
    this.directory.invalidate(p.id, name);
    return this.get(a, ref, name);
  }

  async remove(a: FunctionAdmin, ref: string, name: string): Promise<void> {
    const p = await this.project(a, ref, 'update');
    const f = await this.found(p, name);
    await this.repo.remove(f.id);
    this.directory.invalidate(p.id, name);
  }

  async secretNames(a: FunctionAdmin, ref: string) {
    const p = await this.project(a, ref, 'read');
    return (await this.repo.secrets(p.id)).map((s) => ({ name: s.name, updated_at: iso(s.updated_at) }));
  }

  async putSecrets(a: FunctionAdmin, ref: string, input: PutSecretsInput) {
    const p = await this.project(a, ref, 'update');
    await this.repo.putSecrets(
      p.id,
      Object.entries(input).map(([k, v]) => [k, this.box.seal(p.id, k, v)]),
    );
    this.directory.invalidateSecrets(p.id);
    return this.secretNames(a, ref);
  }

  async deleteSecret(a: FunctionAdmin, ref: string, name: string): Promise<void> {
    const p = await this.project(a, ref, 'update');
    if (!(await this.repo.deleteSecret(p.id, name))) throw PlinthException.notFound(`Secret "${name.slice(0, 128)}"`);
    this.directory.invalidateSecrets(p.id);
  }

  async readLogs(a: FunctionAdmin, ref: string, name: string, q: LogsQuery) {
    const p = await this.project(a, ref, 'read');
    await this.found(p, name);
    await this.logs.flush();
    const oldest = Date.now() - this.config.functions.logRetentionMs;
    const since = new Date(Math.max(oldest, q.since ? Date.parse(q.since) : oldest));
    const rows = await this.repo.logs(p.id, name, { since, limit: q.limit, requestId: q.request_id, errorsOnly: q.level === 'error' });
    return rows.map((r) => {
      const lines = (r.lines as Array<{ at: number; level: string; message: string }>).filter((l) => q.level === undefined || l.level === q.level);
      return {
        request_id: r.request_id,
        version: r.version,
        level: r.level,
        status: r.status,
        duration_ms: r.duration_ms,
        cpu_ms: r.cpu_ms,
        memory_mb: r.memory_mb,
        error: r.error,
        timestamp: iso(r.created_at as Date),
        lines: lines.map((l) => ({ timestamp: new Date(l.at).toISOString(), level: l.level, message: l.message })),
      };
    });
  }

  /** The deploy's settings, with memory and timeout defaulted and held under the plan's (and the operator's) ceilings. */
  private async settings(p: ProjectEntity, input: DeployFunctionInput): Promise<FunctionSettings> {
    const f = this.config.functions;
    const limits = await this.plans.structuralLimits(p.orgId).catch(() => ({}) as Record<string, number>);
    const maxMemory = Math.min(f.maxMemoryMb, limits.function_memory_mb ?? f.maxMemoryMb);
    const maxTimeout = limits.function_timeout_ms ?? f.timeoutMs;
    const memory = input.memory_mb ?? Math.min(f.memoryMb, maxMemory);
    const timeout = input.timeout_ms ?? Math.min(f.timeoutMs, maxTimeout);
    if (memory > maxMemory) throw PlinthException.badRequest(`memory_mb may be at most ${maxMemory} on this project's plan`);
    if (timeout > maxTimeout) throw PlinthException.badRequest(`timeout_ms may be at most ${maxTimeout} on this project's plan`);
    if (input.rpc_read_only && !input.rpc) throw PlinthException.badRequest('rpc_read_only needs rpc: true');
    return { verify_jwt: input.verify_jwt, service_role: input.service_role, rpc: input.rpc, rpc_read_only: input.rpc_read_only, memory_mb: memory, timeout_ms: timeout, cron: input.cron ?? null };
  }

  private async found(p: ProjectEntity, name: string) {
    const f = await this.repo.find(p.id, name);
    if (!f) throw PlinthException.notFound(`Function "${name.slice(0, 63)}"`);
    return f;
  }

  private async project(a: FunctionAdmin, ref: string, action: 'read' | 'update'): Promise<ProjectEntity> {
    const project = await this.projects.findActive(ref);
    if (!project) throw PlinthException.notFound('Project');
    if (a.kind === 'key') {
      if (a.projectId !== project.id) throw PlinthException.notFound('Project');
    } else {
      a.principal.permissions.assert(action, 'Project', project.orgId, 'Project');
    }
    return project;
  }
}

function checkName(name: string): void {
  const r = functionNameSchema.safeParse(name);
  if (!r.success) throw new PlinthException(ErrorCode.ValidationFailed, `Function name ${r.error.issues[0].message}`, [{ path: 'name', message: r.error.issues[0].message }]);
}

function actorOf(a: FunctionAdmin): string {
  return a.kind === 'key' ? `api_key:${a.keyId}` : `user:${a.principal.userId}`;
}

function iso(d: Date | string): string {
  return new Date(d).toISOString();
}
