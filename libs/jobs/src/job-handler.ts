import type { QueueName } from './job.constants';

/** What every job's data carries: the org it acts for (null for platform-wide jobs such as a roll-up). */
export interface JobData {
  orgId: string | null;
}

export interface JobContext {
  /** The outbox row id (stable across retries and relays: use it, or your own key, to deduplicate effects). */
  id: string;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

/**
 * One class per job. Implement it as an `@Injectable()` provider of your lib's module and call
 * `registry.register(this)` in `onModuleInit`. Jobs are at-least-once: `handle` must be idempotent.
 * Throwing retries with exponential backoff; after the last attempt the job is dead (visible, re-drivable).
 * Throwing a {@link PermanentJobError} makes it dead at once (a retry could only fail the same way).
 */
export interface JobHandler<T extends JobData = JobData> {
  readonly queue: QueueName;
  readonly name: string;
  handle(data: T, ctx: JobContext): Promise<void>;
}

/** A job enqueued on a schedule: at most once per `everyMs` window across every process (outbox dedupe). */
export interface JobSchedule {
  queue: QueueName;
  name: string;
  everyMs: number;
  data: JobData;
}

/**
 * A failure no retry can fix (e.g. a destination the policy refuses): the job is recorded dead with this message at
 * once instead of retrying. It stays re-drivable once whatever refused it has changed.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}
