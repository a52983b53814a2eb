import { parseSync, transformSync } from '@swc/core';

/** A source that doesn't compile: the compiler's message and where. */
export class CompileError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
    readonly column: number | null,
  ) {
    super(message);
  }
}

/**
 * Compiles a function's source (one ES module, JavaScript or TypeScript) at deploy time with swc into the script
 * form the runner evaluates in each context (CommonJS exports, ES2022). A function is a single module: imports
 * and re-exports are refused here, since nothing could resolve them in the isolate.
 */
export function compileFunction(source: string, language: 'js' | 'ts'): string {
  const parser = language === 'ts' ? ({ syntax: 'typescript' } as const) : ({ syntax: 'ecmascript' } as const);
  const filename = language === 'ts' ? 'function.ts' : 'function.js';
  try {
    const ast = parseSync(source, { ...parser, target: 'es2022' });
    for (const item of ast.body) {
      const from = (item as { source?: { value: string } }).source;
      if (item.type === 'ImportDeclaration' || ((item.type === 'ExportAllDeclaration' || item.type === 'ExportNamedDeclaration') && from)) {
        const { line, column } = position(source, item.span.start - ast.span.start);
        throw new CompileError(`imports are not supported: a function is one module (found an import of "${from?.value ?? ''}")`, line, column);
      }
    }
    return transformSync(source, { filename, swcrc: false, configFile: false, jsc: { parser, target: 'es2022' }, module: { type: 'commonjs', strict: true }, sourceMaps: false }).code;
  } catch (e) {
    if (e instanceof CompileError) throw e;
    throw fromSwc(String((e as Error)?.message ?? e));
  }
}

/** 1-based line and column of a 0-based offset. */
function position(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** swc's report: `x <message>`, `,-[file:line:col]`, the source lines, and a caret under the place. */
function fromSwc(text: string): CompileError {
  const lines = text.split('\n');
  const message = (lines.find((l) => /^\s*x /.test(l)) ?? lines[0] ?? 'compile error').replace(/^\s*x\s*/, '').trim();
  let line: number | null = null;
  let column: number | null = null;
  const at = /\[[^\]]*?:(\d+):(\d+)\]/.exec(text);
  if (at) {
    line = Number(at[1]);
    column = Number(at[2]);
  }
  const caret = lines.findIndex((l) => /^\s*:\s*\^/.test(l));
  if (caret > 0) {
    const src = lines.slice(0, caret).reverse().find((l) => /^\s*\d+ \|/.test(l));
    if (src) {
      line = Number(/^\s*(\d+)/.exec(src)![1]);
      column = lines[caret].indexOf('^') - (src.indexOf('|') + 2) + 1;
    }
  }
  return new CompileError(message, line, column);
}
