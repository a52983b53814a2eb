import { runtimeFetch } from './rest';

/** What an invocation answered, as the page shows it. */
export interface InvokeResult {
  status: number;
  contentType: string;
  body: string;
  ms: number;
}

/**
 * Calls a function at `/p/<ref>/functions/v1/<name>` with the console's key, as an app would, and returns whatever
 * it answered (a function's own 4xx/5xx is a result to show, not a failure of the page).
 */
export async function invokeFunction(ref: string, name: string, method: string, body: string): Promise<InvokeResult> {
  const started = performance.now();
  const withBody = method !== 'GET' && method !== 'HEAD';
  const res = await runtimeFetch(ref, 'functions', encodeURIComponent(name), {
    method,
    ...(withBody ? { body, headers: { 'content-type': looksLikeJson(body) ? 'application/json' : 'text/plain' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: prettyBody(text), ms: Math.round(performance.now() - started) };
}

export function looksLikeJson(text: string): boolean {
  const t = text.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** JSON answers indented; anything else as it came. */
export function prettyBody(text: string): string {
  if (!looksLikeJson(text)) return text;
  return JSON.stringify(JSON.parse(text), null, 2);
}

/** "The function does not compile at line 2, column 23: …" → {line: 2, column: 23}. */
export function compilePosition(message: string): { line: number; column: number } | null {
  const m = /line (\d+), column (\d+)/.exec(message);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

/** The textarea offset of a 1-based line and column, to put the caret where the compiler points. */
export function offsetOf(source: string, line: number, column: number): number {
  const lines = source.split('\n');
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
  return Math.min(source.length, offset + Math.max(0, column - 1));
}

export const STARTER_SOURCE = `export default {
  async fetch(request: Request, env: any): Promise<Response> {
    const body = request.method === 'POST' ? await request.json() : null;
    console.log('called with', JSON.stringify(body));
    return Response.json({ hello: body?.name ?? 'world' });
  },
};
`;
