import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { AppleSecretCache, appleClientSecret, appleKeyObject, azureIssuerProblem, isAzureMultiTenant } from './provider-quirks';

const TID = '9188040d-6c67-4c5b-b112-36a304b66dad';

describe('isAzureMultiTenant', () => {
  it.each([
    ['https://login.microsoftonline.com/common/v2.0', true],
    ['https://login.microsoftonline.com/organizations/v2.0/', true],
    ['https://login.microsoftonline.com/consumers/v2.0', true],
    [`https://login.microsoftonline.com/${TID}/v2.0`, false],
    ['https://login.microsoftonline.com/common', false],
    ['not a url', false],
  ])('%s → %s', (issuer, expected) => {
    expect(isAzureMultiTenant(issuer)).toBe(expected);
  });
});

describe('azureIssuerProblem', () => {
  const common = 'https://login.microsoftonline.com/common/v2.0';
  it('accepts a token whose issuer is its own tenant’s', () => {
    expect(azureIssuerProblem(common, { iss: `https://login.microsoftonline.com/${TID}/v2.0`, tid: TID })).toBeNull();
  });
  it('refuses another tenant’s issuer, a missing or malformed tid, and another origin', () => {
    const other = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    expect(azureIssuerProblem(common, { iss: `https://login.microsoftonline.com/${other}/v2.0`, tid: TID })).toMatch(/issuer/);
    expect(azureIssuerProblem(common, { iss: `https://login.microsoftonline.com/${TID}/v2.0` })).toMatch(/tid/);
    expect(azureIssuerProblem(common, { iss: 'https://login.microsoftonline.com/common/v2.0', tid: 'common' })).toMatch(/tid/);
    expect(azureIssuerProblem(common, { iss: `https://evil.example/${TID}/v2.0`, tid: TID })).toMatch(/issuer/);
    expect(azureIssuerProblem(common, { iss: `https://login.microsoftonline.com/{tenantid}/v2.0`, tid: TID })).toMatch(/issuer/);
  });
});

describe('appleClientSecret', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const key = { clientId: 'com.example.web', teamId: 'TEAM123456', keyId: 'KEY1234567', privateKeyPem: pem };

  it('is an ES256 JWT from the team to Apple about the client, signed with the key', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = appleClientSecret(key, now);
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: 'KEY1234567', typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, await importSPKI(spki, 'ES256'), { issuer: 'TEAM123456', audience: 'https://appleid.apple.com', subject: 'com.example.web' });
    expect(payload.iat).toBe(now);
    expect(payload.exp).toBe(now + 3600);
  });

  it('does not verify with another key', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expect(jwtVerify(appleClientSecret(key, Math.floor(Date.now() / 1000)), await importSPKI(other, 'ES256'))).rejects.toThrow();
  });

  it('takes only EC P-256 private keys', () => {
    expect(appleKeyObject(pem)).not.toBeNull();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(appleKeyObject(rsa)).toBeNull();
    expect(appleKeyObject(p384)).toBeNull();
    expect(appleKeyObject('not a key')).toBeNull();
    expect(() => appleClientSecret({ ...key, privateKeyPem: rsa }, 0)).toThrow(/P-256/);
  });

  it('is cached until five minutes before it expires, then signed anew', () => {
    let now = 1_800_000_000;
    const cache = new AppleSecretCache(() => now);
    const first = cache.get('p1', key);
    now += 3600 - 301;
    expect(cache.get('p1', key)).toBe(first);
    expect(cache.get('p2', key)).not.toBe(first); // per project and key
    now += 2;
    const renewed = cache.get('p1', key);
    expect(renewed).not.toBe(first);
    expect(JSON.parse(Buffer.from(renewed.split('.')[1], 'base64url').toString()).iat).toBe(now);
  });
});
