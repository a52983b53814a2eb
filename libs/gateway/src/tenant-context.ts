import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { KeyScopes, KeyType, Runtime } from '@plinth/keys';
import type { EndUser } from './end-user-tokens';

/** The project a tenant request addresses, with what the runtimes need to reach its data. */
export interface TenantProject {
  id: string;
  ref: string;
  orgId: string;
  cluster: string;
  schema: string;
  dataRole: string;
}

/**
 * Who is calling a tenant runtime and on which project. Built by the gateway from the presented key;
 * every runtime call takes it explicitly.
 */
export interface TenantContext {
  project: TenantProject;
  runtime: Runtime;
  /**
   * anon: publishable key alone; authenticated: publishable key plus a valid end-user token; service: secret
   * key; restricted: a scoped key.
   */
  role: 'anon' | 'authenticated' | 'service' | 'restricted';
  /** The signed-in end user when role is `authenticated`, else null. */
  user: EndUser | null;
  keyId: string;
  keyType: KeyType;
  /** Table/bucket/read-only limits of a restricted key, for the runtimes to enforce. */
  restrictions: KeyScopes | null;
}

export type TenantRequest = Request & { tenant?: TenantContext };

/** Parameter decorator: the {@link TenantContext} of a request that passed the gateway guard. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantContext => {
  const req = ctx.switchToHttp().getRequest<TenantRequest>();
  if (!req.tenant) throw new Error('Tenant() used on a route without GatewayGuard');
  return req.tenant;
});
