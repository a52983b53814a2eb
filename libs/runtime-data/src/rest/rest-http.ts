import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { OpenApiBody } from '../catalog/project-catalog';
import { PostgrestResponse } from '../postgrest';

/**
 * How `/p/:ref/rest/v1` meets HTTP, shared by the Nest controller and the data fast lane so both answer the same.
 */

/** The raw query string of a request URL, so parameter order and repeats reach the PostgREST parser exactly as sent. */
export function restQueryOf(url: string): URLSearchParams {
  const i = url.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : url.slice(i + 1));
}

/** Writes a {@link PostgrestResponse} (status, its headers, the body unless null). */
export function sendPostgrest(res: ServerResponse, r: PostgrestResponse): void {
  res.statusCode = r.status;
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.body === null) res.end();
  else res.end(r.body);
}

/**
 * Sends the OpenAPI document as Express would send the document object (same Content-Type and ETag, so conditional
 * requests still get 304), from the serialised copy kept with the catalog, with its ETag computed once.
 */
export function sendOpenApi(req: Request, res: Response, doc: OpenApiBody): void {
  const etag = req.app.get('etag fn') as ((body: Buffer, encoding: string) => string) | undefined;
  if (etag) res.setHeader('ETag', (doc.etag ??= etag(doc.json, 'utf8')));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.send(doc.json);
}
