import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { BillingAccessService } from '@plinth/billing';
import { MeteringService } from '@plinth/metering';
import { LimitSubject, TenantLimitsService } from '@plinth/quotas';
import type { TenantContext } from '../tenant-context';

/**
 * Whether a resolved caller's request may proceed, for the edge to apply: the response headers to set
 * (RateLimit-* near a limit), whether the request counts (metering), and the refusal to render instead, if any.
 */
export interface AdmissionDecision {
  /** Counted as a request of its project (a request refused for non-payment isn't; one refused for rate is). */
  metered: boolean;
  headers?: Record<string, string>;
  /** The error to answer with (402 billing or quota, 429 rate) instead of serving the request. */
  refusal?: unknown;
}

/** What admission reads of a request besides its {@link TenantContext}: the client (for per-IP limits). */
export type AdmissionClient = LimitSubject['client'] & { method?: string };

const NOT_METERED_REFUSAL = (refusal: unknown): AdmissionDecision => ({ metered: false, refusal });

/**
 * Admission of a resolved tenant request, in order: billing access (read-only after the grace period, then
 * suspended: 402), then quotas and rate limits (402 over a hard cap, 429 over a rate). It decides; the edge applies
 * the decision (counts the response, sets headers, renders a refusal in the runtime's dialect).
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

  admit(t: TenantContext, client: AdmissionClient): AdmissionDecision | Promise<AdmissionDecision> {
    const write = client.method !== 'GET' && client.method !== 'HEAD';
    let billing: Promise<void> | undefined;
    try {
      billing = this.billing.admit(t.project.orgId, write);
    } catch (e) {
      return NOT_METERED_REFUSAL(e);
    }
    if (billing !== undefined) return billing.then(() => this.admitWithinLimits(t, client), NOT_METERED_REFUSAL);
    return this.admitWithinLimits(t, client);
  }

  /** Counts the response of an admitted (or rate-refused) request when it finishes. */
  meter(res: ServerResponse, t: TenantContext): void {
    this.metering.trackResponse(res, t.project.id, t.runtime);
  }

  private admitWithinLimits(t: TenantContext, client: AdmissionClient): AdmissionDecision | Promise<AdmissionDecision> {
    const decision: AdmissionDecision = { metered: true };
    const sink = {
      setHeader(name: string, value: string): void {
        (decision.headers ??= {})[name] = value;
      },
    };
    const subject: LimitSubject = {
      projectId: t.project.id,
      orgId: t.project.orgId,
      keyId: t.keyId,
      anonymous: t.role === 'anon',
      endUserId: t.user?.id ?? null,
      client,
    };
    try {
      const pending = this.limits.admit(subject, sink);
      if (pending === undefined) return decision;
      return pending.then(
        () => decision,
        (e: unknown) => ({ ...decision, refusal: e }),
      );
    } catch (e) {
      decision.refusal = e;
      return decision;
    }
  }
}
