import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { ProjectDirectory } from '@plinth/gateway';
import { JobData, JobHandler, JobRegistry, OutboxService, QUEUES } from '@plinth/jobs';
import { cronMatches, parseCron } from './cron';
import { FunctionInvoker } from './function-invoker';
import { FunctionsRepository } from './functions.repository';

export const FUNCTION_CRON_TICK_JOB = 'function-cron-tick';
export const FUNCTION_CRON_RUN_JOB = 'function-cron-run';

export interface FunctionCronRunData extends JobData {
  projectId: string;
  ref: string;
  name: string;
  /** The UTC minute this run is for (ms). */
  minute: number;
}

/**
 * Cron for functions, through the job system: a tick scheduled once per minute window (outbox dedupe, so once across
 * instances) enqueues a run job for each function whose expression matches that minute, deduplicated by
 * (function, minute), so a function runs at most once per tick however many ticks or workers there are.
 */
@Injectable()
export class FunctionCronTickJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.maintenance;
  readonly name = FUNCTION_CRON_TICK_JOB;

  constructor(
    private readonly registry: JobRegistry,
    private readonly repo: FunctionsRepository,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 60_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.enqueueDue(this.clock.nowMs());
  }

  /** Enqueues the runs due in the minute of `nowMs`; returns how many were new. */
  async enqueueDue(nowMs: number): Promise<number> {
    const minute = nowMs - (nowMs % 60_000);
    let added = 0;
    for (const f of await this.repo.scheduled()) {
      let due = false;
      try {
        due = cronMatches(parseCron(f.cron), minute);
      } catch {
        continue;
      }
      if (!due) continue;
      const id = await this.repo.transaction((m) =>
        this.outbox.enqueue<FunctionCronRunData>(m, {
          queue: QUEUES.maintenance,
          name: FUNCTION_CRON_RUN_JOB,
          data: { orgId: f.orgId, projectId: f.projectId, ref: f.ref, name: f.name, minute },
          dedupeKey: `cron:${f.projectId}:${f.name}:${minute}`,
          maxAttempts: 1,
        }),
      );
      if (id) added++;
    }
    return added;
  }
}

/** One scheduled run: the function is called as the project itself (service role), with `{scheduled_at}` as body. */
@Injectable()
export class FunctionCronRunJob implements JobHandler<FunctionCronRunData>, OnModuleInit {
  private readonly logger = new Logger(FunctionCronRunJob.name);
  readonly queue = QUEUES.maintenance;
  readonly name = FUNCTION_CRON_RUN_JOB;

  constructor(
    private readonly registry: JobRegistry,
    private readonly projects: ProjectDirectory,
    private readonly invoker: FunctionInvoker,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: FunctionCronRunData, ctx: { id: string }): Promise<void> {
    const project = await this.projects.find(data.ref);
    if (!project || project.id !== data.projectId) return;
    const tenant = { project, runtime: 'functions' as const, role: 'service' as const, user: null, keyId: 'cron', keyType: 'secret' as const, restrictions: null };
    const fn = await this.invoker.find(tenant, data.name);
    if (!fn || !fn.settings.cron) return;
    const body = new TextEncoder().encode(JSON.stringify({ scheduled_at: new Date(data.minute).toISOString() }));
    try {
      await this.invoker.invoke(
        {
          tenant,
          name: data.name,
          requestId: `cron-${ctx.id}`,
          request: { method: 'POST', url: `cron://${project.ref}/${data.name}`, headers: [['content-type', 'application/json'], ['x-plinth-cron', fn.settings.cron]], body },
        },
        fn,
      );
    } catch (e) {
      // The run is in the function's logs; a failed run isn't retried (the next tick runs it again).
      this.logger.warn(`scheduled run of ${data.name} (${project.ref}) failed: ${(e as Error).message}`);
    }
  }
}
