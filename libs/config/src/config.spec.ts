import { ConfigValidationError, loadConfig } from './config';

describe(loadConfig.name, () => {
  it('gives typed defaults for the embedded setup', () => {
    const c = loadConfig({ PLINTH_SECRET: 'x'.repeat(32) });
    expect(c.database.url).toBeUndefined();
    expect(c.redis.url).toBeUndefined();
    expect(c.http).toMatchObject({ port: 3000, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:3000', bodyLimitBytes: 1048576 });
    expect(c.keys.cacheTtlMs).toBe(600_000);
  });

  it('lists every problem at once, without echoing secrets', () => {
    let error: ConfigValidationError | undefined;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', REDIS_URL: 'http://r', PLINTH_SECRET: 'short', KEY_CACHE_TTL_MS: '-1' });
    } catch (e) {
      error = e as ConfigValidationError;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const names = error!.problems.map((p) => p.split(':')[0]).sort();
    expect(names).toEqual(['DATABASE_URL', 'KEY_CACHE_TTL_MS', 'PLINTH_SECRET', 'PORT', 'REDIS_URL']);
    expect(error!.message).not.toContain('short');
  });

  it('bounds header and request timeouts below Node defaults, headers within the request', () => {
    expect(loadConfig({}).http).toMatchObject({ headersTimeoutMs: 20_000, requestTimeoutMs: 60_000 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '10000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed/);
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '0' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
  });

  it('requires a secret and an external database in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PLINTH_SECRET[\s\S]*DATABASE_URL/);
  });

  describe('OUTBOUND_ALLOW_PRIVATE', () => {
    const base = { PLINTH_SECRET: 'x'.repeat(32), DATABASE_URL: 'postgres://db/x' };
    it('defaults to refusing non-public addresses in production only', () => {
      expect(loadConfig({ ...base, NODE_ENV: 'production' }).outbound.allowPrivate).toBe(false);
      expect(loadConfig({ ...base, NODE_ENV: 'test' }).outbound.allowPrivate).toBe(true);
    });
    it('reads the old name WEBHOOK_ALLOW_PRIVATE when the new one is unset', () => {
      expect(loadConfig({ ...base, WEBHOOK_ALLOW_PRIVATE: 'false' }).outbound.allowPrivate).toBe(false);
      expect(loadConfig({ ...base, NODE_ENV: 'production', WEBHOOK_ALLOW_PRIVATE: 'true' }).outbound.allowPrivate).toBe(true);
      expect(loadConfig({ ...base, OUTBOUND_ALLOW_PRIVATE: 'false', WEBHOOK_ALLOW_PRIVATE: 'no' }).outbound.allowPrivate).toBe(false);
    });
    it('refuses the two names set to different values', () => {
      expect(() => loadConfig({ ...base, OUTBOUND_ALLOW_PRIVATE: 'false', WEBHOOK_ALLOW_PRIVATE: 'true' })).toThrow(/WEBHOOK_ALLOW_PRIVATE: is the old name of OUTBOUND_ALLOW_PRIVATE/);
    });
  });

  describe('DATABASE_CLUSTERS', () => {
    const base = { DATABASE_URL: 'postgres://db/control' };
    it('has one cluster by default, the control database', () => {
      expect(loadConfig(base).database).toMatchObject({ clusterName: 'default', clusters: {}, placement: { policy: 'fewest-projects', orgPins: {} } });
    });
    it('reads further clusters and org pins', () => {
      const org = '0b9c1f0e-8a7d-4c7e-9a3b-2f4d5e6a7b8c';
      const c = loadConfig({ ...base, DATABASE_CLUSTERS: 'b=postgres://u:p@h2/db, c=postgres://h3:5433/other', DATABASE_ORG_PINS: `${org}=c`, DATABASE_PLACEMENT: 'least-bytes' });
      expect(c.database.clusters).toEqual({ b: 'postgres://u:p@h2/db', c: 'postgres://h3:5433/other' });
      expect(c.database.placement).toEqual({ policy: 'least-bytes', orgPins: { [org]: 'c' } });
    });
    it('refuses bad names, URLs, repeats, the default name, pins to unknown clusters, and lists them all without passwords', () => {
      let error: ConfigValidationError | undefined;
      try {
        loadConfig({ ...base, DATABASE_CLUSTERS: 'B=postgres://h/db,default=postgres://h/db,c=http://h/db,d=postgres://u:hunter2@h,d=postgres://h/x,junk', DATABASE_ORG_PINS: 'nope=b' });
      } catch (e) {
        error = e as ConfigValidationError;
      }
      expect(error).toBeInstanceOf(ConfigValidationError);
      expect(error!.message).toMatch(/"B" must be a short lowercase name/);
      expect(error!.message).toMatch(/"default" is the default cluster/);
      expect(error!.message).toMatch(/cluster "c" needs a postgres:\/\/ URL/);
      expect(error!.message).toMatch(/"d" is given twice/);
      expect(error!.message).toMatch(/"junk" is not name=value/);
      expect(error!.message).toMatch(/DATABASE_ORG_PINS: "nope" is not an org id/);
      expect(error!.message).not.toContain('hunter2');
    });
    it('needs DATABASE_URL beside further clusters', () => {
      expect(() => loadConfig({ DATABASE_CLUSTERS: 'b=postgres://h/db' })).toThrow(/DATABASE_CLUSTERS: needs DATABASE_URL/);
    });
  });
});
