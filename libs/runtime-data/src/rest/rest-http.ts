import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpenApiBody } from '../catalog/project-catalog';
import { PostgrestResponse } from '../postgrest';

/** How `/p/:ref/rest/v1` meets HTTP. */

/** The raw query string, so parameter order and repeats reach the PostgREST parser exactly as sent. */
export function restQueryOf(query: string): URLSearchParams {
  return new URLSearchParams(query);
}

/** Writes a {@link PostgrestResponse} (status, its headers, the body unless null). */
export function sendPostgrest(res: ServerResponse, r: PostgrestResponse): void {
  res.statusCode = r.status;
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.body === null) res.end();
  else res.end(r.body);
}

/**
 * Sends the serialised OpenAPI document with a weak ETag (computed once per document, as Express's default ETag
 * function makes it), answering 304 to a matching If-None-Match.
 */
export function sendOpenApi(req: IncomingMessage, res: ServerResponse, doc: OpenApiBody): void {
  const etag = (doc.etag ??= weakEtag(doc.json));
  res.setHeader('ETag', etag);
  if (fresh(req, etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', doc.json.length);
  res.statusCode = 200;
  res.end(req.method === 'HEAD' ? undefined : doc.json);
}

function weakEtag(body: Buffer): string {
  const hash = createHash('sha1').update(body).digest('base64').slice(0, 27);
  return `W/"${body.length.toString(16)}-${hash}"`;
}

/** Whether the client's cached copy (If-None-Match, weak comparison) is current; `Cache-Control: no-cache` says no. */
function fresh(req: IncomingMessage, etag: string): boolean {
  const match = req.headers['if-none-match'];
  if (!match || /(?:^|,)\s*no-cache\s*(?:,|$)/.test(req.headers['cache-control'] ?? '')) return false;
  if (match.trim() === '*') return true;
  const bare = etag.slice(2);
  return match.split(',').some((t) => {
    const tag = t.trim();
    return tag === etag || tag === bare || tag.replace(/^W\//, '') === bare;
  });
}
