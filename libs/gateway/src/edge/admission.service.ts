import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { BillingAccessService } from '@plinth/billing';
import { MeteringService } from '@plinth/metering';
import { LimitSubject, TenantLimitsService } from '@plinth/quotas';
import type { TenantContext } from '../tenant-context';

/** Whether a resolved caller's request may proceed: nothing to do, or the refusal to render instead. */
export interface AdmissionDecision {
  /** The error to answer with (402 billing or quota, 429 rate) instead of serving the request. */
  refusal?: unknown;
}

/** What admission reads of a request besides its {@link TenantContext}: the client (for per-IP limits). */
export type AdmissionClient = LimitSubject['client'] & { method?: string };

const ADMITTED: AdmissionDecision = Object.freeze({});
const refused = (refusal: unknown): AdmissionDecision => ({ refusal });

/**
 * Admission of a resolved tenant request, in order: billing access (read-only after the grace period, then
 * suspended: 402; such a request isn't counted), then metering (the response is counted when it finishes; the
 * metering service leaves 402 and 429 answers out), then quotas and rate limits (402 over a hard cap, 429 over a
 * rate; `RateLimit-*` headers set on the response near a limit). It decides; the edge renders a refusal in the
 * runtime's dialect.
 *
 * The response is tracked before the limits are checked because a request admitted under a quota counts against
 * it until that response finishes (so a concurrent burst can't pass a cap all at once).
 *
 * Synchronous while every cache is warm and limits are in memory or leased (the steady state): it returns a
 * promise only when something must be loaded, so the request path allocates none it need not wait for.
 */
@Injectable()
export class Admission {
  constructor(
    private readonly billing: BillingAccessService,
    private readonly limits: TenantLimitsService,
    private readonly metering: MeteringService,
  ) {}

  admit(t: TenantContext, client: AdmissionClient, res: ServerResponse): AdmissionDecision | Promise<AdmissionDecision> {
    const write = client.method !== 'GET' && client.method !== 'HEAD';
    let billing: Promise<void> | undefined;
    try {
      billing = this.billing.admit(t.project.orgId, write);
    } catch (e) {
      return refused(e);
    }
    if (billing !== undefined) return billing.then(() => this.admitWithinLimits(t, client, res), refused);
    return this.admitWithinLimits(t, client, res);
  }

  private admitWithinLimits(t: TenantContext, client: AdmissionClient, res: ServerResponse): AdmissionDecision | Promise<AdmissionDecision> {
    this.metering.trackResponse(res, t.project.id, t.runtime);
    const subject: LimitSubject = {
      projectId: t.project.id,
      orgId: t.project.orgId,
      keyId: t.keyId,
      anonymous: t.role === 'anon',
      endUserId: t.user?.id ?? null,
      client,
    };
    try {
      const pending = this.limits.admit(subject, res);
      if (pending === undefined) return ADMITTED;
      return pending.then(() => ADMITTED, refused);
    } catch (e) {
      return refused(e);
    }
  }
}
