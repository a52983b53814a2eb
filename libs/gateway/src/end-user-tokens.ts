import { Injectable } from '@nestjs/common';
import type { TenantProject } from './tenant-context';

/** An app's signed-in end user, from a verified access token. */
export interface EndUser {
  id: string;
  /** All claims of the token (`role`, `email`, `app_metadata`, …), for rules like `$auth.claims.<name>`. */
  claims: Record<string, unknown>;
}

/** Verifies an end-user access token for a project; resolves null for anything invalid. */
export interface EndUserTokenVerifier {
  verify(project: TenantProject, token: string): Promise<EndUser | null>;
}

/**
 * Where the auth runtime plugs in its token verifier. The gateway must not depend on the auth runtime (the
 * runtimes depend on the gateway), so the runtime registers itself here at start-up. With nothing
 * registered, every end-user token is refused.
 */
@Injectable()
export class EndUserTokens {
  private verifier: EndUserTokenVerifier | undefined;

  register(verifier: EndUserTokenVerifier): void {
    this.verifier = verifier;
  }

  async verify(project: TenantProject, token: string): Promise<EndUser | null> {
    return this.verifier ? this.verifier.verify(project, token) : null;
  }
}
