import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { FunctionsRepository, LogRow } from './functions.repository';

const FLUSH_MS = 1000;
const PRUNE_MS = 10 * 60_000;
const MAX_BUFFER = 5000;

/**
 * Invocation logs (console output, errors, status, duration, CPU, memory), buffered and written in batches so an
 * invocation costs no database write of its own; pruned after their plan's retention (see {@link FunctionLogs.prune}).
 */
@Injectable()
export class FunctionLogs implements OnApplicationShutdown {
  private readonly logger = new Logger(FunctionLogs.name);
  private buffer: LogRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: FunctionsRepository,
  ) {}

  add(row: LogRow): void {
    if (this.buffer.length >= MAX_BUFFER) return;
    this.buffer.push(row);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is buffered (and prunes now and then). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    this.writing = this.writing.then(async () => {
      try {
        await this.repo.writeLogs(rows);
        if (Date.now() - this.lastPrune > PRUNE_MS) {
          this.lastPrune = Date.now();
          await this.prune(new Date());
        }
      } catch (e) {
        this.logger.warn(`function logs not written: ${(e as Error).message}`);
      }
    });
    return this.writing;
  }

  /**
   * Prunes logs past their project's plan retention (`function_log_retention_hours`, else
   * FUNCTION_LOG_RETENTION_HOURS) as of `now` (only `projectIds` when given). Runs every 10 minutes with a flush.
   */
  prune(now: Date, projectIds?: string[]): Promise<number> {
    return this.repo.pruneLogs(now, this.config.functions.logRetentionMs, projectIds);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
