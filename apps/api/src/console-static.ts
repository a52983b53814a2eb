import type { NextFunction, Request, RequestHandler, Response } from 'express';
import serveStatic from 'serve-static';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

/**
 * The console's Content-Security-Policy: its own scripts only (Vite emits no inline script), API calls to this origin
 * only, never framed. Inline styles stay allowed: Radix positions popovers with `style` attributes and its scroll
 * lock injects a `<style>` element.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the console never answers: the management API, the tenant edge, the API docs, the probes. */
const NOT_CONSOLE = [/^\/v1(\/|$)/, /^\/p\//, /^\/docs/, /^\/healthz$/, /^\/readyz$/];

/**
 * Serves the built console (`dir`, Vite's output) at `/`: hashed files under `/assets/` cached for a year, other
 * files revalidated, and `index.html` — with the CSP — for every other GET, so client routes (`/projects/abc`)
 * survive a reload. API paths pass through untouched. Without a build, `/` says how to make one.
 */
export function consoleStatic(dir: string): RequestHandler {
  const assets = serveStatic(join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true });
  const files = serveStatic(dir, { index: false, maxAge: 0, fallthrough: true });
  const indexFile = join(dir, 'index.html');

  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.some((p) => p.test(req.path))) return next();
    if (req.path.startsWith('/assets/')) {
      // An asset the build doesn't have (an old hash after a deploy) is a plain 404, not the app's HTML.
      const url = req.url;
      req.url = req.url.slice('/assets'.length);
      return assets(req, res, () => {
        req.url = url;
        res.status(404).type('text').send('Not found');
      });
    }
    const sendIndex = () => {
      readFile(indexFile, 'utf8').then(
        (html) => {
          res.set({
            'content-security-policy': CONSOLE_CSP,
            'cache-control': 'no-cache',
            'x-content-type-options': 'nosniff',
            'x-frame-options': 'DENY',
            'referrer-policy': 'same-origin',
          });
          res.status(200).type('html').send(html);
        },
        () => {
          res.set({ 'content-security-policy': "default-src 'none'", 'cache-control': 'no-store' });
          res.status(404).type('html').send(NOT_BUILT);
        },
      );
    };
    if (extname(req.path) && req.path !== '/index.html') return files(req, res, sendIndex);
    sendIndex();
  };
}

const NOT_BUILT =
  '<!doctype html><meta charset="utf-8"><title>Plinth</title><p>The console is not built. Run <code>npm run build:console</code> ' +
  '(or <code>npm start</code>, which builds it), then reload. The API is at <a href="/v1">/v1</a>, its docs at <a href="/docs">/docs</a>.</p>';
