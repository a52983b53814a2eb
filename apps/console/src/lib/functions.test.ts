import { describe, expect, it } from 'vitest';
import { compilePosition, looksLikeJson, offsetOf, prettyBody } from './functions';

describe('function editor helpers', () => {
  it('finds the line and column in the API\'s compile error', () => {
    expect(compilePosition('The function does not compile at line 2, column 23: Expression expected')).toEqual({ line: 2, column: 23 });
    expect(compilePosition('The function does not compile: nope')).toBeNull();
  });

  it('turns a line and column into a caret offset', () => {
    const src = 'ab\ncdef\ng';
    expect(offsetOf(src, 1, 1)).toBe(0);
    expect(offsetOf(src, 2, 3)).toBe(5);
    expect(offsetOf(src, 9, 9)).toBe(src.length);
  });

  it('indents JSON answers and leaves text alone', () => {
    expect(prettyBody('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyBody('plain')).toBe('plain');
    expect(looksLikeJson('{nope')).toBe(false);
  });
});
