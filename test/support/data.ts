import { createClient, SupabaseClient, WebSocketLikeConstructor } from '@supabase/supabase-js';
import { jwtVerify, SignJWT } from 'jose';
import ws from 'ws';
import { EndUserTokens } from '@plinth/gateway';
import type { TestApp, TestProject, TestUser } from './test-app';

/**
 * Data-runtime test helpers: the real supabase-js client pointed at a project, table declarations through the
 * management API, and end-user tokens signed here (HS256) and accepted by a test verifier registered where the auth
 * runtime registers its own.
 */

/** The supabase-js v2 client as an app would create it; Node 20 has no global WebSocket, so realtime gets `ws`. */
export function supabase(t: TestApp, ref: string, key: string, userToken?: string): SupabaseClient {
  return createClient(`${t.baseUrl}/p/${ref}`, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: ws as unknown as WebSocketLikeConstructor },
    ...(userToken ? { global: { headers: { Authorization: `Bearer ${userToken}` } } } : {}),
  });
}

const TOKEN_SECRET = new TextEncoder().encode('data-runtime-test-token-secret-0123456789');

/** Accepts tokens signed by {@link signUserToken} for the project named in their `ref` claim only. */
export function registerTestTokens(t: TestApp): void {
  t.app.get(EndUserTokens).register({
    async verify(project, token) {
      try {
        const { payload } = await jwtVerify(token, TOKEN_SECRET, { algorithms: ['HS256'] });
        if (payload.ref !== project.ref || typeof payload.sub !== 'string') return null;
        return { id: payload.sub, claims: payload as Record<string, unknown> };
      } catch {
        return null;
      }
    },
  });
}

export async function signUserToken(ref: string, sub: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ role: 'authenticated', ref, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(TOKEN_SECRET);
}

/** Declares a table through the management API (as the console user) and fails loudly otherwise. */
export async function declareTable(t: TestApp, u: TestUser, p: TestProject, body: object): Promise<Record<string, unknown>> {
  const res = await t.http().post(`/v1/projects/${p.ref}/tables`).set(u.auth).send(body);
  if (res.status !== 201) throw new Error(`declare table failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function putRules(t: TestApp, u: TestUser, p: TestProject, table: string, rules: object[]): Promise<void> {
  const res = await t.http().put(`/v1/projects/${p.ref}/tables/${table}/rules`).set(u.auth).send(rules);
  if (res.status !== 200) throw new Error(`put rules failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A raw PostgREST request, for what supabase-js can't express (hostile input, odd headers). */
export function rest(t: TestApp, ref: string, path: string): string {
  return `/p/${ref}/rest/v1/${path}`;
}
