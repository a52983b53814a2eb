import { scopeAllows } from './gateway.guard';

describe('scopeAllows', () => {
  const key = (scopes: string[], read_only = false) => ({ scopes: { scopes, read_only } });

  it('matches runtime and action, with wildcards', () => {
    expect(scopeAllows(key(['rest:read']), 'rest', 'read')).toBe(true);
    expect(scopeAllows(key(['rest:read']), 'rest', 'write')).toBe(false);
    expect(scopeAllows(key(['rest:read']), 'storage', 'read')).toBe(false);
    expect(scopeAllows(key(['rest:*']), 'rest', 'write')).toBe(true);
    expect(scopeAllows(key(['*:read']), 'functions', 'read')).toBe(true);
  });

  it('never lets a read-only key write, whatever its scopes', () => {
    expect(scopeAllows(key(['*:*'], true), 'rest', 'write')).toBe(false);
    expect(scopeAllows(key(['*:*'], true), 'rest', 'read')).toBe(true);
  });

  it('refuses keys without scopes', () => {
    expect(scopeAllows({ scopes: null }, 'rest', 'read')).toBe(false);
  });
});
