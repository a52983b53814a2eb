import type { ServerResponse } from 'node:http';
import { raw, urlencoded } from 'express';
import { BodyRequest, jsonBodyParser, JsonBodyParser } from './json-body-parser';
import type { BodyMode } from './runtime-registry';

type Parser = (req: BodyRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * Reads a tenant request's body as its route asks ({@link BodyMode}), within the body limit, with body-parser's
 * refusals (413 too large, 415 charset or encoding, 400 malformed or a corrupt compressed body). JSON is read by
 * {@link jsonBodyParser} (plain bodies itself, anything unusual by body-parser).
 */
export class BodyReader {
  private readonly json: JsonBodyParser;
  private readonly form: Parser;
  private readonly raw: Parser;

  constructor(limit: number) {
    this.json = jsonBodyParser({ limit, type: JSON_TYPES });
    this.form = urlencoded({ limit, extended: false });
    this.raw = raw({ limit, type: () => true });
  }

  /** The body, or undefined for `none`, `stream` and a `json` route's body of another media type. */
  read(req: BodyRequest, res: ServerResponse, mode: BodyMode): Promise<unknown> | undefined {
    if (mode === 'none' || mode === 'stream') return undefined;
    // Nothing to read: spares the parsers (and a promise) on the common bodiless read.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return undefined;
    return new Promise((resolve, reject) => {
      const done = (err?: unknown): void => (err ? reject(err) : resolve(req.body));
      if (mode === 'raw') return this.raw(req, res, done);
      this.json(req, res, (err) => (err ? reject(err) : this.form(req, res, done)));
    });
  }
}
