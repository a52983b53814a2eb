import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ErrorCode, nonPublicHostReason, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { CacheInvalidation } from '@plinth/database';
import { AuthSettings, authSettingsSchema, defaultAuthSettings, PatchAuthSettings } from './auth-config.dto';
import { AuthConfigRepository } from './auth-config.repository';
import { appleKeyProblem, EMPTY_PROVIDER, OAuthProviderName, providerProblem, providerView, secretContext } from './oauth-providers';
import { appleKeyObject } from './provider-quirks';
import { parseRedirectPattern } from './redirect-allow-list';
import { SecretBox } from './secret-box';

export const AUTH_CONFIG_TOPIC = 'auth-config';
const TTL_MS = 5000;

/** A project's settings as the runtime uses them; the SMTP password stays sealed until a mail is sent. */
export interface ProjectAuthConfig {
  settings: AuthSettings;
  smtpPasswordSealed: string | null;
  /** Changes whenever the settings do (cache key for per-project mail transports). */
  version: string;
}

/** What the management API shows: everything but the SMTP password, which is reported as set or not. */
export type AuthSettingsView = Omit<AuthSettings, 'smtp' | 'providers'> & {
  smtp: (Omit<NonNullable<AuthSettings['smtp']>, 'pass'> & { pass_set: boolean }) | null;
  providers: Record<string, ReturnType<typeof providerView>>;
};

/**
 * Per-project auth settings in `control.auth_configs` (absent row = defaults). Cached per instance for a few
 * seconds and dropped at once on every instance when changed (Postgres NOTIFY on commit).
 */
@Injectable()
export class AuthConfigService implements OnModuleInit {
  private readonly cache = new Map<string, { config: ProjectAuthConfig; until: number }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly plinth: PlinthConfig,
    private readonly repo: AuthConfigRepository,
    private readonly box: SecretBox,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(AUTH_CONFIG_TOPIC, (projectId) => this.cache.delete(projectId));
  }

  async get(projectId: string): Promise<ProjectAuthConfig> {
    const now = Date.now();
    const hit = this.cache.get(projectId);
    if (hit && hit.until > now) return hit.config;
    const row = await this.repo.find(projectId);
    const defaults = defaultAuthSettings();
    const config: ProjectAuthConfig = row
      ? {
          settings: {
            ...defaults,
            ...row.settings,
            rate_limits: { ...defaults.rate_limits, ...row.settings.rate_limits },
            // Entries saved before patterns were validated as URLs (credentials, backslashes) never match now;
            // dropping them here keeps the next PATCH from failing validation on a field it didn't touch.
            redirect_urls: (row.settings.redirect_urls ?? defaults.redirect_urls).filter((p) => parseRedirectPattern(p) !== null),
          },
          smtpPasswordSealed: row.smtp_password_enc,
          version: row.updated_at.toISOString(),
        }
      : { settings: defaults, smtpPasswordSealed: null, version: 'default' };
    if (this.cache.size > 20_000) this.cache.clear();
    this.cache.set(projectId, { config, until: now + TTL_MS });
    return config;
  }

  /** The project's SMTP password, decrypted (only the mailer calls this). */
  smtpPassword(projectId: string, config: ProjectAuthConfig): string | undefined {
    return config.smtpPasswordSealed ? this.box.open(config.smtpPasswordSealed, `smtp:${projectId}`) : undefined;
  }

  /** Merges a patch into the stored settings in the caller's transaction; returns the new view. */
  async update(m: EntityManager, projectId: string, patch: PatchAuthSettings): Promise<AuthSettingsView> {
    const { smtp: smtpPatch, rate_limits, templates, providers: providersPatch, ...rest } = patch;
    // Refused up front when it is plainly internal; a name is checked again at every connection (see AuthMailer).
    const refused = smtpPatch && !this.plinth.outbound.allowPrivate ? nonPublicHostReason(smtpPatch.host) : null;
    if (refused) {
      const message = `smtp.host: ${refused}; the SMTP server must be reachable at a public address`;
      throw new PlinthException(ErrorCode.ValidationFailed, `Request is invalid: ${message}`, [{ path: 'smtp.host', message: refused }]);
    }
    const current = await this.get(projectId);
    const merged: AuthSettings = {
      ...current.settings,
      ...rest,
      rate_limits: { ...current.settings.rate_limits, ...rate_limits },
      templates: { ...current.settings.templates, ...templates },
      providers: { ...current.settings.providers },
    };
    for (const [name, p] of Object.entries(providersPatch ?? {}) as Array<[OAuthProviderName, NonNullable<typeof providersPatch>[OAuthProviderName]]>) {
      if (!p) continue;
      const { client_secret, ...fields } = p;
      const next = { ...EMPTY_PROVIDER, ...merged.providers[name], ...fields };
      if (client_secret !== undefined) next.client_secret_enc = client_secret === null ? null : this.box.seal(client_secret, secretContext(projectId, name));
      const host = next.issuer ? new URL(next.issuer).hostname : null;
      // Apple's .p8 key is checked before it is sealed: a key that can't sign would only fail at sign-in.
      const keyNeeded = name === 'apple' && next.team_id && next.key_id && typeof client_secret === 'string';
      const problem =
        providerProblem(name, next) ??
        appleKeyProblem(name, next) ??
        (keyNeeded && !appleKeyObject(client_secret) ? 'providers.apple: with team_id and key_id, client_secret must be the .p8 private key (EC P-256, PEM)' : null) ??
        (host && !this.plinth.outbound.allowPrivate ? nonPublicHostReason(host) : null);
      if (problem) throw new PlinthException(ErrorCode.ValidationFailed, `Request is invalid: ${problem}`, [{ path: `providers.${name}`, message: problem }]);
      merged.providers[name] = next;
    }
    let sealed = current.smtpPasswordSealed;
    if (smtpPatch === null) {
      merged.smtp = null;
      sealed = null;
    } else if (smtpPatch) {
      const { pass, ...smtp } = smtpPatch;
      merged.smtp = smtp;
      if (pass !== undefined) sealed = pass ? this.box.seal(pass, `smtp:${projectId}`) : null;
    }
    const settings = authSettingsSchema.parse(merged);
    await this.repo.upsert(m, projectId, settings, sealed);
    await this.invalidation.publish(m, AUTH_CONFIG_TOPIC, projectId);
    this.cache.delete(projectId);
    return AuthConfigService.view(settings, sealed !== null);
  }

  static view(settings: AuthSettings, passSet: boolean): AuthSettingsView {
    const { smtp, providers: stored, ...rest } = settings;
    const providers = Object.fromEntries(Object.entries(stored).map(([name, p]) => [name, providerView(p!)]));
    if (!smtp) return { ...rest, providers, smtp: null };
    const { pass: _omitted, ...visible } = smtp;
    return { ...rest, providers, smtp: { ...visible, pass_set: passSet } };
  }

  /** A provider's client secret, decrypted (only the OAuth flow calls this). */
  providerSecret(projectId: string, name: OAuthProviderName, sealed: string): string {
    return this.box.open(sealed, secretContext(projectId, name));
  }
}
