import { Injectable } from '@nestjs/common';

/**
 * The time every job, meter and quota uses. Real time by default; tests move it with {@link Clock.travel}
 * (e.g. into the next billing period) without touching the system clock.
 */
@Injectable()
export class Clock {
  private offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Moves this process's time by `ms` (tests only). */
  travel(ms: number): void {
    this.offsetMs += ms;
  }

  /** Sets this process's time to `at` (tests only). */
  set(at: Date): void {
    this.offsetMs = at.getTime() - Date.now();
  }
}
