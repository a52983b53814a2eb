import { Injectable } from '@nestjs/common';

/**
 * The time every job, meter, quota and bill uses: the system's. Tests that need another time give the app their
 * own `Clock` (a subclass) by overriding this provider; nothing in the running app can move it.
 */
@Injectable()
export class Clock {
  nowMs(): number {
    return Date.now();
  }

  now(): Date {
    return new Date(this.nowMs());
  }
}
