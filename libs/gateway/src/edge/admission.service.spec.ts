import type { ServerResponse } from 'node:http';
import type { BillingAccessService } from '@plinth/billing';
import { ErrorCode, PlinthException } from '@plinth/common';
import type { MeteringService } from '@plinth/metering';
import type { LimitSubject, TenantLimitsService } from '@plinth/quotas';
import type { TenantContext } from '../tenant-context';
import { Admission, AdmissionDecision } from './admission.service';

const tenant: TenantContext = {
  project: { id: 'p1', ref: 'refone', orgId: 'o1', cluster: 'main', schema: 't_refone', dataRole: 't_refone_data' },
  runtime: 'rest',
  role: 'anon',
  user: null,
  keyId: 'k1',
  keyType: 'publishable',
  restrictions: null,
};
const client = (method = 'GET') => ({ method, ip: '10.0.0.1', headers: {}, socket: { remoteAddress: '10.0.0.1' } });

const paymentRequired = () => new PlinthException(ErrorCode.PaymentRequired, 'Payment required');
const rateLimited = () => new PlinthException(ErrorCode.RateLimited, 'Too many requests', undefined, { 'retry-after': '1' });

describe(Admission.name, () => {
  /** What each collaborator does on the next call (a value, a thrown error, or a promise), and what it was asked. */
  let billing: (orgId: string, write: boolean) => Promise<void> | undefined;
  let limits: (s: LimitSubject, res: { setHeader(n: string, v: string): unknown }) => Promise<void> | undefined;
  const billed: Array<[string, boolean]> = [];
  const limited: LimitSubject[] = [];
  const metered: Array<[string, string]> = [];
  const sut = new Admission(
    { admit: (o: string, w: boolean) => (billed.push([o, w]), billing(o, w)) } as unknown as BillingAccessService,
    { admit: (s: LimitSubject, res: { setHeader(n: string, v: string): unknown }) => (limited.push(s), limits(s, res)) } as unknown as TenantLimitsService,
    { trackResponse: (_res: ServerResponse, projectId: string, runtime: string) => metered.push([projectId, runtime]) } as unknown as MeteringService,
  );

  beforeEach(() => {
    billing = () => undefined;
    limits = () => undefined;
    billed.length = limited.length = metered.length = 0;
  });

  it('admits synchronously while every check decides at once (no promise on the request path)', () => {
    const d = sut.admit(tenant, client());
    expect(d).toEqual({ metered: true });
    expect(billed).toEqual([['o1', false]]);
    expect(limited[0]).toMatchObject({ projectId: 'p1', orgId: 'o1', keyId: 'k1', anonymous: true, endUserId: null });
  });

  it('asks billing about a write for anything but GET and HEAD', () => {
    sut.admit(tenant, client('HEAD'));
    sut.admit(tenant, client('POST'));
    sut.admit(tenant, client('DELETE'));
    expect(billed.map(([, w]) => w)).toEqual([false, true, true]);
  });

  it('refuses for non-payment (402) without counting the request or checking limits', async () => {
    billing = () => {
      throw paymentRequired();
    };
    const d = sut.admit(tenant, client('POST')) as AdmissionDecision;
    expect([d.metered, (d.refusal as PlinthException).status]).toEqual([false, 402]);
    expect(limited).toHaveLength(0);
    billing = () => Promise.reject(paymentRequired());
    const later = await sut.admit(tenant, client('POST'));
    expect([later.metered, (later.refusal as PlinthException).status]).toEqual([false, 402]);
  });

  it('refuses over a rate limit (429) but counts the request, with the refusal headers on the error', async () => {
    limits = () => {
      throw rateLimited();
    };
    const d = sut.admit(tenant, client()) as AdmissionDecision;
    expect([d.metered, (d.refusal as PlinthException).status, (d.refusal as PlinthException).headers]).toEqual([true, 429, { 'retry-after': '1' }]);
    limits = () => Promise.reject(rateLimited());
    expect((await sut.admit(tenant, client())).refusal).toBeInstanceOf(PlinthException);
  });

  it('carries the RateLimit-* headers the limits set on an admitted request', async () => {
    limits = (_s, res) => {
      res.setHeader('ratelimit-remaining', '3');
    };
    expect(sut.admit(tenant, client())).toEqual({ metered: true, headers: { 'ratelimit-remaining': '3' } });
    limits = (_s, res) => Promise.resolve().then(() => void res.setHeader('ratelimit-limit', '10'));
    expect(await sut.admit(tenant, client())).toEqual({ metered: true, headers: { 'ratelimit-limit': '10' } });
  });

  it('waits for billing that must load, then checks limits', async () => {
    billing = () => Promise.resolve();
    const pending = sut.admit(tenant, client());
    expect(pending).toBeInstanceOf(Promise);
    expect(limited).toHaveLength(0);
    expect(await pending).toEqual({ metered: true });
    expect(limited).toHaveLength(1);
  });

  it('limits a signed-in end user as such, and meters by project and runtime', () => {
    sut.admit({ ...tenant, role: 'authenticated', user: { id: 'u1', claims: {} } }, client());
    expect(limited[0]).toMatchObject({ anonymous: false, endUserId: 'u1' });
    sut.meter({} as ServerResponse, { ...tenant, runtime: 'auth' });
    expect(metered).toEqual([['p1', 'auth']]);
  });
});
