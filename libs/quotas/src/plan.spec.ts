import { Plan, statementTimeoutMs } from './plan';

describe('statementTimeoutMs', () => {
  const plan = (limits: Record<string, number>) => ({ limits }) as unknown as Plan;

  it("is the plan's, the shorter anonymous one for anonymous callers, never above the ceiling", () => {
    const p = plan({ statement_timeout_ms: 3000, anon_statement_timeout_ms: 1000 });
    expect(statementTimeoutMs(p, false, 5000)).toBe(3000);
    expect(statementTimeoutMs(p, true, 5000)).toBe(1000);
    expect(statementTimeoutMs(plan({ statement_timeout_ms: 15_000 }), false, 5000)).toBe(5000);
  });

  it('falls back to the plain timeout, then to the ceiling, when the plan sets none', () => {
    expect(statementTimeoutMs(plan({ statement_timeout_ms: 2000 }), true, 5000)).toBe(2000);
    expect(statementTimeoutMs(plan({}), true, 5000)).toBe(5000);
  });
});
