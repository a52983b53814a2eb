import type { z } from 'zod';
import { EdgeContext, EdgeRoute, sendJson } from '@plinth/gateway';
import type { AuthCall } from './auth.service';
import { challengeSchema, enrollSchema, MfaService, verifyFactorSchema } from './mfa.service';

type CallOf = (c: EdgeContext) => AuthCall;
type BodyOf = <T extends z.ZodType>(c: EdgeContext, schema: T) => z.infer<T>;

/** GoTrue's MFA routes (`supabase.auth.mfa`, `supabase.auth.admin.mfa`), for the auth runtime's edge. */
export function mfaRoutes(mfa: MfaService, callOf: CallOf, bodyOf: BodyOf): EdgeRoute[] {
  const route = (methods: EdgeRoute['methods'], path: string, body: EdgeRoute['body'], handler: (c: EdgeContext) => Promise<unknown>): EdgeRoute => ({
    methods,
    path,
    body,
    handler: async (c) => sendJson(c.res, 200, await handler(c)),
  });
  return [
    route(['POST'], '/factors', 'json', (c) => mfa.enroll(callOf(c), bodyOf(c, enrollSchema))),
    route(['POST'], '/factors/:id/challenge', 'json', (c) => mfa.challenge(callOf(c), c.params.id, bodyOf(c, challengeSchema))),
    route(['POST'], '/factors/:id/verify', 'json', (c) => mfa.verify(callOf(c), c.params.id, bodyOf(c, verifyFactorSchema))),
    route(['DELETE'], '/factors/:id', 'none', (c) => mfa.unenroll(callOf(c), c.params.id)),
    route(['GET'], '/admin/users/:id/factors', 'none', (c) => mfa.adminList(c.tenant, c.params.id)),
    route(['DELETE'], '/admin/users/:id/factors/:factorId', 'none', (c) => mfa.adminDelete(c.tenant, c.params.id, c.params.factorId)),
  ];
}
