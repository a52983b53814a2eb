import { CompileError, compileFunction } from './compile-function';

describe('compileFunction', () => {
  it('strips TypeScript into the CommonJS script the runner evaluates', () => {
    const code = compileFunction('interface A { x: number }\nexport default { fetch(r: Request): Response { const a: A = { x: 1 }; return new Response(String(a.x)) } }', 'ts');
    expect(code).not.toMatch(/interface|: Request/);
    expect(code).toMatch(/exports/);
  });

  it('reports a syntax error with its line and column', () => {
    try {
      compileFunction('export default {\n  fetch() { return 1 +; }\n}', 'js');
      throw new Error('compiled');
    } catch (e) {
      expect(e).toBeInstanceOf(CompileError);
      expect((e as CompileError).line).toBe(2);
      expect((e as CompileError).column).toBe(23);
    }
  });

  it('refuses imports and re-exports (a function is one module)', () => {
    expect(() => compileFunction("import x from 'node:fs'; export default x", 'js')).toThrow(/imports are not supported/);
    expect(() => compileFunction("export * from 'node:fs'", 'ts')).toThrow(/imports are not supported/);
    expect(() => compileFunction("export { readFile } from 'node:fs'", 'ts')).toThrow(/imports are not supported/);
  });

  it('refuses TypeScript syntax in a JavaScript function', () => {
    expect(() => compileFunction('const a: number = 1; export default {}', 'js')).toThrow(CompileError);
  });
});
