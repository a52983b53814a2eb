import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_HEADERS =
  'apikey, authorization, content-type, content-profile, accept-profile, prefer, range, range-unit, x-client-info, x-request-id, x-upsert, cache-control, x-metadata, tus-resumable, upload-length, upload-offset, upload-metadata, upload-defer-length';
const EXPOSED_HEADERS = 'content-range, content-location, content-disposition, etag, location, tus-resumable, tus-version, tus-extension, tus-max-size, upload-offset, upload-length, upload-defer-length, upload-expires, preference-applied, x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset';

/**
 * CORS for tenant APIs, as browsers using supabase-js expect: preflights are answered without credentials
 * (keys are checked on the real request, where allowed origins are enforced), and the caller's origin is
 * echoed so credentialed requests work. Returns true when it answered the request (a preflight). `routed`: a bare
 * OPTIONS (no `Access-Control-Request-Method`) to a route that answers OPTIONS itself (TUS discovery) is left to it.
 */
export function answerCors(req: IncomingMessage, res: ServerResponse, routed = false): boolean {
  const origin = req.headers.origin;
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Allow-Origin', origin ?? '*');
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  if (origin) res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (req.method !== 'OPTIONS') return false;
  if (routed && req.headers['access-control-request-method'] === undefined) return false;
  res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
  res.setHeader('Access-Control-Max-Age', '86400');
  res.statusCode = 204;
  res.end();
  return true;
}
