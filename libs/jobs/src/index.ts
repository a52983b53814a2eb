/**
 * Background jobs. To run work after a commit, write it to the outbox in the same transaction:
 *
 *   await outbox.enqueue(manager, { queue: QUEUES.email, name: SEND_EMAIL, data: { orgId, to, template } });
 *
 * To handle a job, add an `@Injectable()` class implementing {@link JobHandler} to your lib's module and call
 * `registry.register(this)` in `onModuleInit` (and `registry.schedule(...)` for a repeatable one). Handlers must
 * be idempotent (at-least-once). The worker (or the api in the embedded default) must import your module.
 */
/** Global module every process imports: OutboxService, JobRegistry, Clock, REDIS. */
export { OutboxModule } from './outbox.module';
/** The processors: in-process runner (no Redis) or outbox relay + BullMQ workers (REDIS_URL), and schedules. */
export { JobsModule } from './jobs.module';
/** Writes jobs in the caller's transaction; lists and re-drives dead jobs. */
export { OutboxService } from './outbox.service';
export type { EnqueueJob, OutboxRow, OutboxStatus } from './outbox.service';
/** Handlers by (queue, name), and repeatable schedules. */
export { JobRegistry } from './job-registry';
export type { JobHandler, JobData, JobContext, JobSchedule } from './job-handler';
/** Thrown by a handler for a failure no retry can fix: the job is dead at once. */
export { PermanentJobError } from './job-handler';
/** Queue names (constants), libs/jobs' own job names, and the REDIS connection token (null when embedded). */
export { QUEUES, QUEUE_NAMES, JOB_NAMES, REDIS } from './job.constants';
export type { QueueName } from './job.constants';
/** Injectable time; tests move it with `travel`. */
/** Runners, exported for the worker, tests and benchmarks. */
export { OutboxRunner } from './outbox-runner';
export { OutboxRelay } from './outbox-relay';
export { BullWorkers } from './bullmq-workers';
export { BullQueues } from './bullmq-queues';
export { JobScheduler } from './job-scheduler';
export { JobExecutor, backoffMs } from './job-executor';
/** Refuses a Redis whose maxmemory-policy isn't noeviction; fail-fast connection for request-path use. */
export { assertNoEviction, connectRedis } from './redis';
