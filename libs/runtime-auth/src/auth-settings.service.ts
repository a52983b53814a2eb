import { Injectable } from '@nestjs/common';
import { AuditService } from '@plinth/audit';
import { ControlTransactions } from '@plinth/database';
import type { Principal } from '@plinth/identity';
import { ProjectsService } from '@plinth/tenancy';
import type { PatchAuthSettings } from './auth-config.dto';
import { AuthConfigService, AuthSettingsView } from './auth-config.service';
import { SigningKeysService } from './signing-keys.service';

/** The management side of a project's auth: settings and signing-key rotation, for console callers. */
@Injectable()
export class AuthSettingsService {
  constructor(
    private readonly tx: ControlTransactions,
    private readonly projects: ProjectsService,
    private readonly config: AuthConfigService,
    private readonly keys: SigningKeysService,
    private readonly audit: AuditService,
  ) {}

  async get(p: Principal, ref: string): Promise<AuthSettingsView> {
    const project = await this.projects.get(p, ref);
    const c = await this.config.get(project.id);
    return AuthConfigService.view(c.settings, c.smtpPasswordSealed !== null);
  }

  async update(p: Principal, ref: string, patch: PatchAuthSettings): Promise<AuthSettingsView> {
    const project = await this.projects.get(p, ref);
    p.permissions.assert('update', 'Project', project.org_id, 'Project');
    return this.tx.run(async (m) => {
      const view = await this.config.update(m, project.id, patch);
      const changed = Object.keys(patch).sort();
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'auth_config.update', targetType: 'project', targetId: ref, details: { changed } });
      return view;
    });
  }

  async rotateSigningKey(p: Principal, ref: string): Promise<{ kid: string; previous_kid: string | null }> {
    const project = await this.projects.get(p, ref);
    p.permissions.assert('update', 'Project', project.org_id, 'Project');
    return this.tx.run(async (m) => {
      const { kid, previous } = await this.keys.rotate(m, project.id);
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'auth_signing_key.rotate', targetType: 'project', targetId: ref, details: { kid, previous_kid: previous } });
      return { kid, previous_kid: previous };
    });
  }
}
