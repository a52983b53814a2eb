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
  /** The response: headers the limits set land on it. */
  let res: ServerResponse & { headers: Record<string, string> };
  const sut = new Admission(
    { admit: (o: string, w: boolean) => (billed.push([o, w]), billing(o, w)) } as unknown as BillingAccessService,
    { admit: (s: LimitSubject, res: { setHeader(n: string, v: string): unknown }) => (limited.push(s), limits(s, res)) } as unknown as TenantLimitsService,
    { trackResponse: (_res: ServerResponse, projectId: string, runtime: string) => metered.push([projectId, runtime]) } as unknown as MeteringService,
  );

  beforeEach(() => {
    billing = () => undefined;
    limits = () => undefined;
    billed.length = limited.length = metered.length = 0;
    const headers: Record<string, string> = {};
    res = { headers, setHeader: (n: string, v: string) => void (headers[n] = v) } as unknown as ServerResponse & { headers: Record<string, string> };
  });

  it('admits synchronously while every check decides at once (no promise on the request path)', () => {
    const d = sut.admit(tenant, client(), res);
    expect(d).toEqual({});
    expect(billed).toEqual([['o1', false]]);
    expect(metered).toEqual([['p1', 'rest']]);
    expect(limited[0]).toMatchObject({ projectId: 'p1', orgId: 'o1', keyId: 'k1', anonymous: true, endUserId: null });
  });

  it('asks billing about a write for anything but GET and HEAD', () => {
    sut.admit(tenant, client('HEAD'), res);
    sut.admit(tenant, client('POST'), res);
    sut.admit(tenant, client('DELETE'), res);
    expect(billed.map(([, w]) => w)).toEqual([false, true, true]);
  });

  it('refuses for non-payment (402) without counting the request or checking limits', async () => {
    billing = () => {
      throw paymentRequired();
    };
    const d = sut.admit(tenant, client('POST'), res) as AdmissionDecision;
    expect((d.refusal as PlinthException).status).toBe(402);
    billing = () => Promise.reject(paymentRequired());
    const later = await sut.admit(tenant, client('POST'), res);
    expect((later.refusal as PlinthException).status).toBe(402);
    expect(limited).toHaveLength(0);
    expect(metered).toHaveLength(0);
  });

  it('refuses over a rate limit (429) but counts the request, with the refusal headers on the error', async () => {
    limits = () => {
      throw rateLimited();
    };
    const d = sut.admit(tenant, client(), res) as AdmissionDecision;
    expect([(d.refusal as PlinthException).status, (d.refusal as PlinthException).headers]).toEqual([429, { 'retry-after': '1' }]);
    expect(metered).toEqual([['p1', 'rest']]);
    limits = () => Promise.reject(rateLimited());
    expect((await sut.admit(tenant, client(), res)).refusal).toBeInstanceOf(PlinthException);
  });

  it('tracks the response before the limits see it (a quota counts admitted requests until they finish)', () => {
    limits = () => {
      expect(metered).toEqual([['p1', 'rest']]);
      return undefined;
    };
    sut.admit(tenant, client(), res);
    expect(limited).toHaveLength(1);
  });

  it('lets the limits set their RateLimit-* headers on the response', async () => {
    limits = (_s, r) => {
      r.setHeader('ratelimit-remaining', '3');
    };
    expect(sut.admit(tenant, client(), res)).toEqual({});
    limits = (_s, r) => Promise.resolve().then(() => void r.setHeader('ratelimit-limit', '10'));
    expect(await sut.admit(tenant, client(), res)).toEqual({});
    expect(res.headers).toEqual({ 'ratelimit-remaining': '3', 'ratelimit-limit': '10' });
  });

  it('waits for billing that must load, then checks limits', async () => {
    billing = () => Promise.resolve();
    const pending = sut.admit(tenant, client(), res);
    expect(pending).toBeInstanceOf(Promise);
    expect(limited).toHaveLength(0);
    expect(await pending).toEqual({});
    expect(limited).toHaveLength(1);
  });

  it('limits a signed-in end user as such, and meters by project and runtime', () => {
    sut.admit({ ...tenant, runtime: 'auth', role: 'authenticated', user: { id: 'u1', claims: {} } }, client(), res);
    expect(limited[0]).toMatchObject({ anonymous: false, endUserId: 'u1' });
    expect(metered).toEqual([['p1', 'auth']]);
  });
});
