import type { ExecutionContext } from '@nestjs/common';
import type { PlinthConfig } from '@plinth/config';
import { OperatorGuard } from './operator.guard';

describe(OperatorGuard.name, () => {
  const token = 'o'.repeat(40);
  const ctx = (authorization?: string) =>
    ({ switchToHttp: () => ({ getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }) }) }) as unknown as ExecutionContext;

  it('hides the operator routes (404) when no OPERATOR_TOKEN is configured, whatever is presented', () => {
    const sut = new OperatorGuard({ operatorToken: undefined } as PlinthConfig);
    expect(() => sut.canActivate(ctx(`Bearer ${token}`))).toThrow(expect.objectContaining({ status: 404 }));
  });

  it('admits the operator token only', () => {
    const sut = new OperatorGuard({ operatorToken: token } as PlinthConfig);
    expect(sut.canActivate(ctx(`Bearer ${token}`))).toBe(true);
    for (const bad of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`]) {
      expect(() => sut.canActivate(ctx(bad))).toThrow(expect.objectContaining({ status: 401 }));
    }
  });
});
