import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import type { PlinthConfig } from '@plinth/config';
import type { TenantProject } from '@plinth/gateway';
import type { AuthRepository } from './auth.repository';
import { AuthTokensService } from './auth-tokens.service';
import type { UserRow } from './auth-user.view';
import type { SigningKeysService } from './signing-keys.service';

describe(AuthTokensService.name, () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const config = { http: { publicUrl: 'https://api.example.com' } } as PlinthConfig;
  const keys = {
    signingKey: async () => ({ kid: 'kid-1', privateKey }),
    publicKey: async (_projectId: string, kid: string) => (kid === 'kid-1' ? publicKey : null),
  } as unknown as SigningKeysService;
  const repo = { run: async () => true, sessionActive: async () => true } as unknown as AuthRepository;
  const project = { id: 'p1', ref: 'abcdefghijklmnopqrst' } as TenantProject;
  const user = {
    id: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', email: 'ada@example.com', is_anonymous: false, user_metadata: { name: 'Ada' }, app_metadata: {},
    identities: [{ provider: 'email' }],
  } as unknown as UserRow;
  const sessionId = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
  const sut = new AuthTokensService(config, keys, repo);

  it('signs an ES256 JWT with GoTrue claims that a standard verifier accepts', async () => {
    const { token, expiresAt } = await sut.sign(project, { user, sessionId, amr: [{ method: 'password', timestamp: 1 }], ttlSeconds: 3600 });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', kid: 'kid-1', typ: 'JWT' });
    const { payload } = await jwtVerify(token, publicKey, { algorithms: ['ES256'], audience: 'authenticated', issuer: sut.issuer(project.ref) });
    expect(payload).toMatchObject({
      sub: user.id, role: 'authenticated', email: 'ada@example.com', session_id: sessionId, aal: 'aal1', is_anonymous: false,
      user_metadata: { name: 'Ada' }, app_metadata: { provider: 'email', providers: ['email'] }, amr: [{ method: 'password', timestamp: 1 }], exp: expiresAt,
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    await expect(jwtVerify(token, other.publicKey, { algorithms: ['ES256'] })).rejects.toThrow();
  });

  it('verifies its own tokens and refuses a tampered one', async () => {
    const { token } = await sut.sign(project, { user, sessionId, amr: [], ttlSeconds: 60 });
    expect(await sut.verify(project, token)).toMatchObject({ id: user.id });
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url');
    expect(await sut.verify(project, `${h}.${forged}.${s}`)).toBeNull();
  });
});
