import { ErrorCode, PlinthException } from '@plinth/common';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** How one tenant pool is shared between projects (see {@link ProjectSlots}). */
export interface ProjectSlotLimits {
  /** Connections one project may hold at once. */
  maxShare: number;
  /** Requests of one project that may wait for a slot beyond that; more are refused at once. */
  queue: number;
  /** Longest a request waits for a slot before it is refused. */
  queueWaitMs: number;
}

/**
 * Per-project admission to one tenant pool, so one project's slow statements can't take every connection: a
 * project holds at most `maxShare` of them; its further requests wait in its own bounded FIFO queue for one of its
 * own slots, and are refused (429 with Retry-After) when that queue is full or the wait runs out. Other projects
 * never wait behind that queue, only in the pool's own queue for a free connection.
 *
 * The uncontended path is a Map lookup and a store: no promise, no object per request. Only a project already at
 * its share allocates (a waiter and its timer).
 */
export class ProjectSlots {
  private readonly inFlight = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(private readonly limits: ProjectSlotLimits) {}

  /**
   * Takes a slot for `project`: undefined when taken at once, else a promise that settles when one is handed over
   * (or rejects with a 429). Throws the 429 at once when the project's queue is full. Each taken slot must be given
   * back with {@link leave}.
   */
  enter(project: string): Promise<void> | undefined {
    const n = this.inFlight.get(project) ?? 0;
    if (n < this.limits.maxShare) {
      this.inFlight.set(project, n + 1);
      return undefined;
    }
    let queue = this.waiting.get(project);
    if ((queue?.length ?? 0) >= this.limits.queue) throw this.busy();
    if (queue === undefined) this.waiting.set(project, (queue = []));
    const q = queue;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = q.indexOf(waiter);
          if (i >= 0) q.splice(i, 1);
          if (q.length === 0 && this.waiting.get(project) === q) this.waiting.delete(project);
          reject(this.busy());
        }, this.limits.queueWaitMs),
      };
      q.push(waiter);
    });
  }

  /** Gives a slot back: to the project's longest waiting request if any (the count stays), else frees it. */
  leave(project: string): void {
    const queue = this.waiting.get(project);
    const next = queue?.shift();
    if (next !== undefined) {
      if (queue!.length === 0) this.waiting.delete(project);
      clearTimeout(next.timer);
      next.resolve();
      return;
    }
    const n = (this.inFlight.get(project) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(project);
    else this.inFlight.set(project, n);
  }

  private busy(): PlinthException {
    // A slot frees when one of the project's statements ends; the statement timeout bounds that, so a second is
    // a fair first guess, not a promise.
    return new PlinthException(
      ErrorCode.ConcurrencyLimited,
      'Too many concurrent database requests for this project; retry shortly',
      { max_concurrent: this.limits.maxShare, max_waiting: this.limits.queue },
      { 'retry-after': '1' },
    );
  }
}
