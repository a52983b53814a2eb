import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import type { TokenPair } from '../tokens/session.service';

/** The refresh cookie: sent only to the cookie endpoints, never readable by scripts, never sent cross-site. */
export const SESSION_COOKIE = 'plinth_session';
export const SESSION_COOKIE_PATH = '/v1/auth/session';
/**
 * A companion cookie scripts may read, holding nothing but "1": whether a session cookie was set. The console skips
 * the refresh round trip on its first page when it is absent (no session to resume).
 */
export const SESSION_HINT_COOKIE = 'plinth_signed_in';
/**
 * The header a browser client sends to ask for (and to use) the cookie. A page on another site can't add a custom
 * header to a request here without a CORS preflight, which `/v1` never grants: with SameSite=Strict, this makes the
 * cookie endpoints CSRF-safe.
 */
export const SESSION_HEADER = 'x-plinth-session';

/** A token pair as a cookie client gets it: the refresh token went into the cookie. */
export type CookieTokens = Omit<TokenPair, 'refresh_token'>;

/**
 * Console sessions over an httpOnly cookie, for the web console: sign-up and sign-in with `x-plinth-session: cookie`
 * put the refresh token in the cookie instead of the body, and `POST /v1/auth/session/refresh` rotates it. The
 * access token stays in the page's memory; nothing long-lived is ever readable by script.
 */
@Injectable()
export class SessionCookies {
  constructor(@Inject(PLINTH_CONFIG) private readonly config: PlinthConfig) {}

  /** Whether the client asked for the cookie. */
  wanted(req: Request): boolean {
    return req.get(SESSION_HEADER) === 'cookie';
  }

  /** `result` as the client asked for it: unchanged, or with its refresh token moved into the cookie. */
  deliver<T extends TokenPair>(req: Request, res: Response, result: T): T | Omit<T, 'refresh_token'> {
    if (!this.wanted(req)) return result;
    const { refresh_token, ...rest } = result;
    this.set(res, refresh_token);
    return rest;
  }

  /** The cookie's refresh token; refuses requests without the header (CSRF) or without the cookie. */
  read(req: Request): string {
    if (!this.wanted(req)) throw new PlinthException(ErrorCode.Forbidden, `This endpoint needs the ${SESSION_HEADER}: cookie header`);
    const token = parseCookies(req.get('cookie') ?? '')[SESSION_COOKIE];
    if (!token) throw new PlinthException(ErrorCode.Unauthorized, 'No session cookie');
    return token;
  }

  set(res: Response, refreshToken: string): void {
    const maxAge = this.config.tokens.refreshTtlSeconds * 1000;
    res.cookie(SESSION_COOKIE, refreshToken, { ...this.attributes(), maxAge });
    res.cookie(SESSION_HINT_COOKIE, '1', { ...this.attributes(), httpOnly: false, path: '/', maxAge });
  }

  clear(res: Response): void {
    res.clearCookie(SESSION_COOKIE, this.attributes());
    res.clearCookie(SESSION_HINT_COOKIE, { ...this.attributes(), httpOnly: false, path: '/' });
  }

  private attributes() {
    return {
      httpOnly: true,
      sameSite: 'strict' as const,
      path: SESSION_COOKIE_PATH,
      // Browsers drop Secure cookies on plain http, which the embedded default (http://127.0.0.1) uses.
      secure: this.config.http.publicUrl.startsWith('https:'),
    };
  }
}

/** `a=1; b=2` → `{a: '1', b: '2'}` (first occurrence wins; values URI-decoded when they decode). */
export function parseCookies(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}
