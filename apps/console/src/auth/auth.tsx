import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, unwrap } from '../api/client';
import type { AuthResult, User } from '../api/types';
import { hasSessionHint, session, SESSION_HEADERS } from './session';

interface AuthState {
  status: 'loading' | 'signed-in' | 'signed-out';
  user: User | null;
  signIn(email: string, password: string): Promise<void>;
  signUp(email: string, password: string, name?: string): Promise<void>;
  signOut(): Promise<void>;
  reloadUser(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  // No session cookie set: the sign-in page shows at once, without a refresh round trip.
  const [status, setStatus] = useState<AuthState['status']>(() => (hasSessionHint() ? 'loading' : 'signed-out'));
  const queries = useQueryClient();

  const reloadUser = useCallback(async () => {
    setUser(await unwrap<User>(api.GET('/v1/me')));
  }, []);

  useEffect(() => {
    let live = true;
    // A reload keeps no token: the httpOnly cookie (if any) gets a new one.
    if (hasSessionHint()) void session.refresh().then(async (token) => {
      if (!live) return;
      if (!token) return setStatus('signed-out');
      try {
        await reloadUser();
        setStatus('signed-in');
      } catch {
        setStatus('signed-out');
      }
    });
    const off = session.onChange((signedIn) => {
      if (!signedIn) {
        setUser(null);
        setStatus('signed-out');
        queries.clear();
      }
    });
    return () => {
      live = false;
      off();
    };
  }, [queries, reloadUser]);

  const value = useMemo<AuthState>(
    () => ({
      status,
      user,
      reloadUser,
      async signIn(email, password) {
        const r = await unwrap<AuthResult>(api.POST('/v1/auth/login', { body: { email, password }, headers: SESSION_HEADERS }));
        session.grant(r);
        setUser(r.user);
        setStatus('signed-in');
      },
      async signUp(email, password, name) {
        const r = await unwrap<AuthResult>(api.POST('/v1/auth/signup', { body: { email, password, ...(name ? { name } : {}) }, headers: SESSION_HEADERS }));
        session.grant(r);
        setUser(r.user);
        setStatus('signed-in');
      },
      async signOut() {
        await session.signOut();
      },
    }),
    [status, user, reloadUser],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
