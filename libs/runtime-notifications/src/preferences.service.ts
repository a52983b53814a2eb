import { Inject, Injectable } from '@nestjs/common';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Clock, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { TenantContext } from '@plinth/gateway';
import { inboxOwner } from './inbox.service';
import type { PreferencesInput } from './notifications.dto';
import { Preferences, PreferencesRepository } from './preferences.repository';

/** The channels an end user can opt out of (webhooks go to the project's servers, not to a user). */
export const USER_CHANNELS = ['inapp', 'email', 'push'] as const;

export interface PreferencesView {
  channels: Record<string, boolean>;
  topics: Record<string, boolean>;
  subscriptions: string[];
}

/** What an unsubscribe token names: a user of a project, and the topic the email came from (else all email). */
export interface UnsubscribeClaim {
  projectId: string;
  userId: string;
  topic: string | null;
}

/**
 * An end user's preferences (per channel and per topic opt-outs) and topic subscriptions, and the signed one-click
 * unsubscribe links emails carry. A link is an HMAC over (project, user, topic) under a key derived from the master
 * secret for this purpose only: it can't be forged, and it names its project, so it does nothing in another.
 */
@Injectable()
export class PreferencesService {
  private readonly key: Buffer;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: PreferencesRepository,
    private readonly clock: Clock,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', config.secret, 'plinth', 'notifications-unsubscribe', 32));
  }

  async get(t: TenantContext): Promise<PreferencesView> {
    const { projectId, userId } = inboxOwner(t);
    const [prefs, subscriptions] = await Promise.all([this.repo.get(projectId, userId), this.repo.topicsOf(projectId, userId)]);
    return view(prefs, subscriptions);
  }

  /** Replaces the user's preferences (what is left out is on). */
  async put(t: TenantContext, input: PreferencesInput): Promise<PreferencesView> {
    const { projectId, userId } = inboxOwner(t);
    const saved = await this.repo.put(projectId, userId, { channels: input.channels ?? {}, topics: input.topics ?? {} }, this.clock.now());
    return view(saved, await this.repo.topicsOf(projectId, userId));
  }

  async subscribe(t: TenantContext, topic: string): Promise<{ topic: string; subscribed: boolean }> {
    const { projectId, userId } = inboxOwner(t);
    await this.repo.subscribe(projectId, topic, userId, this.clock.now());
    return { topic, subscribed: true };
  }

  async unsubscribe(t: TenantContext, topic: string): Promise<{ topic: string; subscribed: boolean }> {
    const { projectId, userId } = inboxOwner(t);
    await this.repo.unsubscribe(projectId, topic, userId);
    return { topic, subscribed: false };
  }

  token(c: UnsubscribeClaim): string {
    const payload = Buffer.from(JSON.stringify({ p: c.projectId, u: c.userId, t: c.topic })).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** The one-click unsubscribe URL of an email to `c.userId` (RFC 8058: POSTed to by the mail client, no key). */
  unsubscribeUrl(ref: string, c: UnsubscribeClaim): string {
    return `${this.config.http.publicUrl}/p/${ref}/notifications/v1/unsubscribe?token=${this.token(c)}`;
  }

  /** Verifies a token for this project and opts its user out (of its topic, or of email); 400 for any bad token. */
  async oneClick(t: TenantContext, token: string | undefined): Promise<{ unsubscribed: { topic: string } | { channel: 'email' } }> {
    const claim = this.verify(token ?? '');
    if (!claim || claim.projectId !== t.project.id) throw PlinthException.badRequest('This unsubscribe link is not valid');
    const now = this.clock.now();
    if (claim.topic !== null) {
      await this.repo.optOut(claim.projectId, claim.userId, 'topics', claim.topic, now);
      return { unsubscribed: { topic: claim.topic } };
    }
    await this.repo.optOut(claim.projectId, claim.userId, 'channels', 'email', now);
    return { unsubscribed: { channel: 'email' } };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  private verify(token: string): UnsubscribeClaim | null {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined || token.length > 1000) return null;
    const want = Buffer.from(this.mac(payload));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    try {
      const c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { p?: unknown; u?: unknown; t?: unknown };
      if (typeof c.p !== 'string' || typeof c.u !== 'string' || !(c.t === null || typeof c.t === 'string')) return null;
      return { projectId: c.p, userId: c.u, topic: c.t };
    } catch {
      return null;
    }
  }
}

function view(p: Preferences, subscriptions: string[]): PreferencesView {
  const channels: Record<string, boolean> = {};
  for (const c of USER_CHANNELS) channels[c] = p.channels[c] !== false;
  return { channels, topics: { ...p.topics }, subscriptions };
}

/** Whether `prefs` let a message reach the user on `channel` (and from `topic`, when it came from one). */
export function allows(prefs: Preferences | undefined, channel: string, topic: string | undefined): boolean {
  if (!prefs) return true;
  if (prefs.channels[channel] === false) return false;
  return topic === undefined || prefs.topics[topic] !== false;
}
