/**
 * The console's session: the access token lives in this module's memory only; the refresh token is an httpOnly,
 * SameSite=Strict cookie scoped to `/v1/auth/session` that scripts can't read. A reload starts with no token and
 * asks the cookie endpoint for one.
 */
export const SESSION_HEADERS = { 'x-plinth-session': 'cookie' } as const;

export interface AccessGrant {
  access_token: string;
  expires_in: number;
}

/**
 * Whether the server set a session cookie (it sets a readable `plinth_signed_in=1` beside the httpOnly one): without
 * it there is no session to resume, and the first page needn't ask.
 */
export function hasSessionHint(): boolean {
  return typeof document !== 'undefined' && /(?:^|;\s*)plinth_signed_in=1(?:;|$)/.test(document.cookie);
}

type Listener = (signedIn: boolean) => void;

let token: string | null = null;
let expiresAt = 0;
let refreshing: Promise<string | null> | null = null;
const listeners = new Set<Listener>();

function emit(signedIn: boolean) {
  for (const l of listeners) l(signedIn);
}

export const session = {
  /** Keeps a fresh grant (after sign-in, sign-up or a refresh). */
  grant(g: AccessGrant): void {
    token = g.access_token;
    expiresAt = Date.now() + g.expires_in * 1000;
  },

  /** A token valid for at least 30 more seconds, refreshing through the cookie when needed; null when signed out. */
  async freshToken(): Promise<string | null> {
    if (token && Date.now() < expiresAt - 30_000) return token;
    return hasSessionHint() ? this.refresh() : null;
  },

  /** One refresh at a time: concurrent callers share it (a second would spend the rotated cookie twice). */
  refresh(): Promise<string | null> {
    refreshing ??= (async () => {
      try {
        const res = await fetch('/v1/auth/session/refresh', { method: 'POST', headers: SESSION_HEADERS, credentials: 'same-origin' });
        if (!res.ok) {
          token = null;
          return null;
        }
        this.grant((await res.json()) as AccessGrant);
        return token;
      } catch {
        return null;
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  },

  async signOut(): Promise<void> {
    token = null;
    expiresAt = 0;
    await fetch('/v1/auth/session/logout', { method: 'POST', headers: SESSION_HEADERS, credentials: 'same-origin' }).catch(() => undefined);
    emit(false);
  },

  /** The API said 401 to a token we hold: the session ended elsewhere. */
  expired(): void {
    token = null;
    expiresAt = 0;
    emit(false);
  },

  onChange(l: Listener): () => void {
    listeners.add(l);
    return () => listeners.delete(l);
  },
};
