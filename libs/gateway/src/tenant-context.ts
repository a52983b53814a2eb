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
 * Who is calling a tenant runtime and on which project. Built by the edge from the presented key;
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
