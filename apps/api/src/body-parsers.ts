import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { json, urlencoded } from 'express';

/**
 * The management API's body parsers: JSON (`application/json`, `application/*+json`) and forms, within the body
 * limit, keeping the raw bytes as `req.rawBody` (Stripe webhook signatures), as Nest's `rawBody: true` did. Tenant
 * routes (`/p/…`) never reach Express: the tenant edge reads their bodies itself, after the key check.
 */
export function bodyParsers(limit: number, jsonTypes: string[]): RequestHandler[] {
  const verify = (req: IncomingMessage, _res: ServerResponse, buf: Buffer): void => {
    (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
  };
  return [json({ limit, type: jsonTypes, verify }), urlencoded({ limit, extended: false, verify })];
}
