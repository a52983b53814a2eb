import { backoffMs } from './job-executor';

describe(backoffMs.name, () => {
  it('doubles per attempt with ±25 % jitter, capped at an hour', () => {
    expect(backoffMs(1000, 1, 0.5)).toBe(1000);
    expect(backoffMs(1000, 2, 0.5)).toBe(2000);
    expect(backoffMs(1000, 4, 0.5)).toBe(8000);
    expect(backoffMs(1000, 1, 0)).toBe(750);
    expect(backoffMs(1000, 1, 1)).toBe(1250);
    expect(backoffMs(1000, 40, 0.5)).toBe(3_600_000);
  });
});
