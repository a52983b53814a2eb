import { ErrorCode, PlinthException } from '@plinth/common';
import type { KeyVerifier, VerifiedKey } from '@plinth/keys';
import { EndUserTokens } from './end-user-tokens';
import { KeyRequest, KeyResolver, KeySurface, KeyTarget, scopeAllows } from './key-resolver';
import type { ProjectDirectory } from './project-directory';
import type { TenantProject } from './tenant-context';

const project: TenantProject = { id: 'p1', ref: 'refone', orgId: 'o1', cluster: 'main', schema: 't_refone', dataRole: 't_refone_data' };
const other: TenantProject = { id: 'p2', ref: 'reftwo', orgId: 'o1', cluster: 'main', schema: 't_reftwo', dataRole: 't_reftwo_data' };

const base = (over: Partial<VerifiedKey>): VerifiedKey => ({
  id: 'k',
  projectId: 'p1',
  type: 'publishable',
  scopes: null,
  allowedOrigins: null,
  allowedIps: null,
  allowBrowser: false,
  expiresAt: null,
  ...over,
});

/** Keys by their presented string, as the verifier would return them (null: unknown, revoked or expired). */
const KEYS: Record<string, VerifiedKey> = {
  pl_pk_plain: base({ id: 'pk' }),
  pl_sk_plain: base({ id: 'sk', type: 'secret' }),
  pl_sk_browser: base({ id: 'skb', type: 'secret', allowBrowser: true }),
  pl_sk_lan: base({ id: 'sklan', type: 'secret', allowedIps: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] }),
  pl_pk_web: base({ id: 'pkweb', allowedOrigins: ['https://app.example.com'] }),
  pl_rk_orders: base({ id: 'rk', type: 'restricted', scopes: { scopes: ['rest:*', 'storage:read'], tables: ['orders'], buckets: ['avatars'] } }),
  pl_rk_ro: base({ id: 'rkro', type: 'restricted', scopes: { scopes: ['*:*'], read_only: true } }),
  pl_sk_other: base({ id: 'sko', projectId: 'p2', type: 'secret' }),
};

describe(KeyResolver.name, () => {
  const endUsers = new EndUserTokens();
  endUsers.register({ verify: async (p, token) => (p.id === 'p1' && token === 'good.jwt' ? { id: 'user-1', claims: {} } : null) });
  const verifier = { verify: async (presented: string) => KEYS[presented] ?? null } as unknown as KeyVerifier;
  const directory = { find: async (ref: string) => [project, other].find((p) => p.ref === ref) ?? null } as unknown as ProjectDirectory;
  const sut = new KeyResolver(verifier, directory, endUsers);

  const req = (key: string | null, over: { origin?: string; ip?: string; method?: string; bearer?: string } = {}): KeyRequest => ({
    method: over.method ?? 'GET',
    ip: over.ip ?? '127.0.0.1',
    headers: {
      ...(key ? { apikey: key } : {}),
      ...(over.origin ? { origin: over.origin } : {}),
      ...(over.bearer ? { authorization: `Bearer ${over.bearer}` } : {}),
    },
  });

  /** What judging the request gives: 'ok', or the error's status and code. */
  async function outcome(r: KeyRequest, surface: KeySurface = 'rest', target?: KeyTarget, ref = 'refone'): Promise<string> {
    try {
      if (surface === 'catalog') await sut.check(r, sut.presentedKey(r.headers) ?? '', ref, 'catalog', target);
      else await sut.tenant(r, ref, surface, target);
      return 'ok';
    } catch (e) {
      const err = e as PlinthException;
      return `${err.status} ${err.code}`;
    }
  }
  const INVALID = `401 ${ErrorCode.InvalidApiKey}`;
  const FORBIDDEN = `403 ${ErrorCode.Forbidden}`;

  it('answers an unknown runtime with 404 before looking at the key', async () => {
    expect(await outcome(req(null), 'bogus' as KeySurface)).toBe(`404 ${ErrorCode.NotFound}`);
  });

  it("gives the same 401 for a missing, unknown (revoked, expired) or another project's key", async () => {
    expect(await outcome(req(null))).toBe(INVALID);
    expect(await outcome(req('pl_pk_unknown'))).toBe(INVALID);
    expect(await outcome(req('pl_sk_other'))).toBe(INVALID);
    expect(await outcome(req('pl_sk_other'), 'catalog')).toBe(INVALID);
  });

  it('answers a ref with no project 404, with any key or none (refs are not secrets; keys are)', async () => {
    const NOT_FOUND = `404 ${ErrorCode.NotFound}`;
    expect(await outcome(req('pl_pk_plain'), 'rest', undefined, 'nosuchref')).toBe(NOT_FOUND);
    expect(await outcome(req(null), 'rest', undefined, 'nosuchref')).toBe(NOT_FOUND);
    expect(await outcome(req('pl_pk_unknown'), 'rest', undefined, 'nosuchref')).toBe(NOT_FOUND);
    expect(await outcome(req('pl_sk_plain'), 'catalog', undefined, 'nosuchref')).toBe(NOT_FOUND);
  });

  it("makes the project's anonymous caller for a route that takes no key, with a per-project key id; 404 for no project", async () => {
    await expect(sut.keyless('refone', 'auth')).resolves.toMatchObject({ role: 'anon', user: null, keyId: 'keyless:p1', restrictions: null, runtime: 'auth' });
    await expect(sut.keyless('nosuchref', 'auth')).rejects.toMatchObject({ status: 404 });
    await expect(sut.keyless('refone', 'bogus')).rejects.toMatchObject({ status: 404 });
  });

  it('takes the key from apikey or a key-shaped bearer, and a JWT bearer as the end user', async () => {
    expect(await outcome({ method: 'GET', ip: '127.0.0.1', headers: { authorization: 'Bearer pl_sk_plain' } })).toBe('ok');
    expect(sut.presentedKey({ authorization: 'Bearer pl_pat_abc' })).toBeNull(); // a personal access token is no key
    const t = await sut.tenant(req('pl_pk_plain', { bearer: 'good.jwt' }), 'refone', 'rest');
    expect([t.role, t.user?.id]).toEqual(['authenticated', 'user-1']);
    expect(await outcome(req('pl_pk_plain', { bearer: 'bad.jwt' }))).toBe(`401 ${ErrorCode.Unauthorized}`);
    expect((await sut.tenant(req('pl_sk_plain'), 'refone', 'rest')).role).toBe('service');
  });

  it('accepts only the secret key on the catalog (others: the same 401)', async () => {
    expect(await outcome(req('pl_sk_plain'), 'catalog')).toBe('ok');
    expect(await outcome(req('pl_pk_plain'), 'catalog')).toBe(INVALID);
    expect(await outcome(req('pl_rk_orders'), 'catalog')).toBe(INVALID);
  });

  it('refuses a secret key from a browser unless it allows it, on every surface', async () => {
    for (const surface of ['rest', 'catalog'] as const) {
      expect(await outcome(req('pl_sk_plain', { origin: 'https://x.example' }), surface)).toBe(FORBIDDEN);
      expect(await outcome(req('pl_sk_browser', { origin: 'https://x.example' }), surface)).toBe('ok');
    }
  });

  it('holds an origin-restricted key to its origins, and refuses it without an Origin', async () => {
    expect(await outcome(req('pl_pk_web', { origin: 'https://app.example.com' }))).toBe('ok');
    expect(await outcome(req('pl_pk_web', { origin: 'https://evil.example' }))).toBe(FORBIDDEN);
    expect(await outcome(req('pl_pk_web'))).toBe(FORBIDDEN);
  });

  it('holds an IP-restricted key to its ranges (IPv4, IPv6, mapped IPv4, single addresses), on every surface', async () => {
    for (const surface of ['rest', 'catalog'] as const) {
      expect(await outcome(req('pl_sk_lan', { ip: '127.0.0.1' }), surface)).toBe(FORBIDDEN);
      expect(await outcome(req('pl_sk_lan', { ip: '10.1.2.3' }), surface)).toBe('ok');
    }
    expect(await outcome(req('pl_sk_lan', { ip: '::ffff:10.1.2.3' }))).toBe('ok');
    expect(await outcome(req('pl_sk_lan', { ip: '2001:db8::1' }))).toBe('ok');
    expect(await outcome(req('pl_sk_lan', { ip: '2001:db9::1' }))).toBe(FORBIDDEN);
    expect(await outcome(req('pl_sk_lan', { ip: '192.0.2.7' }))).toBe('ok');
    expect(await outcome(req('pl_sk_lan', { ip: '192.0.2.8' }))).toBe(FORBIDDEN);
    expect(await outcome(req('pl_sk_lan', { ip: '' }))).toBe(FORBIDDEN);
  });

  it('keeps a restricted key inside its scopes, read-only flag, tables and buckets', async () => {
    expect(await outcome(req('pl_rk_orders'), 'rest', { table: 'orders' })).toBe('ok');
    expect(await outcome(req('pl_rk_orders', { method: 'POST' }), 'rest', { table: 'orders' })).toBe('ok');
    expect(await outcome(req('pl_rk_orders'), 'rest', { table: 'invoices' })).toBe(FORBIDDEN);
    expect(await outcome(req('pl_rk_orders'), 'rest')).toBe('ok'); // the OpenAPI root names no table
    expect(await outcome(req('pl_rk_orders'), 'storage', { bucket: 'avatars' })).toBe('ok');
    expect(await outcome(req('pl_rk_orders'), 'storage', { bucket: 'private' })).toBe(FORBIDDEN);
    expect(await outcome(req('pl_rk_orders', { method: 'POST' }), 'storage', { bucket: 'avatars' })).toBe(FORBIDDEN);
    expect(await outcome(req('pl_rk_orders'), 'auth')).toBe(FORBIDDEN);
    expect(await outcome(req('pl_rk_ro'), 'functions')).toBe('ok');
    expect(await outcome(req('pl_rk_ro', { method: 'PATCH' }), 'rest', { table: 'orders' })).toBe(FORBIDDEN);
    const t = await sut.tenant(req('pl_rk_orders'), 'refone', 'rest', { table: 'orders' });
    expect([t.role, t.restrictions?.tables]).toEqual(['restricted', ['orders']]);
  });
});

describe('scopeAllows', () => {
  const key = (scopes: string[], read_only = false) => ({ scopes: { scopes, read_only } });

  it('matches runtime and action, with wildcards', () => {
    expect(scopeAllows(key(['rest:read']), 'rest', 'read')).toBe(true);
    expect(scopeAllows(key(['rest:read']), 'rest', 'write')).toBe(false);
    expect(scopeAllows(key(['rest:read']), 'storage', 'read')).toBe(false);
    expect(scopeAllows(key(['rest:*']), 'rest', 'write')).toBe(true);
    expect(scopeAllows(key(['*:read']), 'functions', 'read')).toBe(true);
  });

  it('never lets a read-only key write, whatever its scopes', () => {
    expect(scopeAllows(key(['*:*'], true), 'rest', 'write')).toBe(false);
    expect(scopeAllows(key(['*:*'], true), 'rest', 'read')).toBe(true);
  });

  it('refuses keys without scopes', () => {
    expect(scopeAllows({ scopes: null }, 'rest', 'read')).toBe(false);
  });

  it('judges a route\'s own action (notifications:send) by that scope alone, and never for a read-only key', () => {
    expect(scopeAllows(key(['notifications:send']), 'notifications', 'send')).toBe(true);
    expect(scopeAllows(key(['notifications:*']), 'notifications', 'send')).toBe(true);
    expect(scopeAllows(key(['notifications:write']), 'notifications', 'send')).toBe(false);
    expect(scopeAllows(key(['notifications:send']), 'notifications', 'write')).toBe(false);
    expect(scopeAllows(key(['notifications:send']), 'notifications', 'read')).toBe(false);
    expect(scopeAllows(key(['*:*'], true), 'notifications', 'send')).toBe(false);
  });
});
