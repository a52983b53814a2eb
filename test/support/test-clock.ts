import { Clock } from '@plinth/common';

/**
 * A clock tests move (into the next billing period, past a lease) without touching the system's. An app gets one
 * by provider override (bootTestApp does it for every e2e app); unit tests pass it to the class they test.
 */
export class TestClock extends Clock {
  private offsetMs = 0;

  override nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves this clock's time by `ms`. */
  travel(ms: number): void {
    this.offsetMs += ms;
  }

  /** Sets this clock's time to `at`; it runs on from there. */
  set(at: Date): void {
    this.offsetMs = at.getTime() - Date.now();
  }
}
