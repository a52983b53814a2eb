import { createECDH, createPublicKey, createDecipheriv, hkdfSync, randomBytes, randomUUID, verify } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerTestTokens, signUserToken } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * Web push end to end against a local push service that checks the VAPID JWT (ES256, `aud` its own origin, signed
 * by the project's public key) and decrypts the aes128gcm payload with the subscription's private key (RFC 8291,
 * done here with node:crypto, not with the web-push package that encrypts). A 410 removes the subscription.
 */

const b64u = (b: Buffer) => b.toString('base64url');

/** A browser's side of a subscription: its ECDH key pair and auth secret. */
class Subscriber {
  readonly ecdh = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  constructor(readonly endpoint: string) {
    this.ecdh.generateKeys();
  }
  json() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: b64u(this.ecdh.getPublicKey()), auth: b64u(this.auth) } };
  }
  /** RFC 8291 / RFC 8188 decryption of one aes128gcm record. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idlen = body[20];
    const asPublic = body.subarray(21, 21 + idlen);
    const ciphertext = body.subarray(21 + idlen);
    const shared = this.ecdh.computeSecret(asPublic);
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), asPublic]);
    const ikm = Buffer.from(hkdfSync('sha256', shared, this.auth, keyInfo, 32));
    const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    if (plain[end - 1] !== 2) throw new Error('no last-record delimiter');
    return plain.subarray(0, end - 1).toString('utf8');
  }
}

/** A push service on 127.0.0.1: verifies VAPID, decrypts with the subscriber it knows by path, answers per plan. */
class PushServiceStub {
  server!: Server;
  origin = '';
  readonly subscribers = new Map<string, Subscriber>();
  readonly received: Array<{ path: string; vapidKey: string; claims: Record<string, unknown>; payload: unknown; encoding: string; ttl: string }> = [];
  readonly rejected: string[] = [];
  readonly status = new Map<string, number>();

  subscriber(name: string): Subscriber {
    const s = new Subscriber(`${this.origin}/push/${name}`);
    this.subscribers.set(`/push/${name}`, s);
    return s;
  }

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const m = /^vapid t=([^,]+),\s*k=(.+)$/.exec(String(req.headers.authorization));
          if (!m) throw new Error('no vapid authorization');
          const [h, p, sig] = m[1].split('.');
          const raw = Buffer.from(m[2], 'base64url');
          const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33, 65)) }, format: 'jwk' });
          if (JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'ES256') throw new Error('not ES256');
          if (!verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'))) throw new Error('bad JWT signature');
          const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { aud: string; exp: number; sub: string };
          if (claims.aud !== this.origin) throw new Error(`aud ${claims.aud}`);
          if (!(claims.exp > Date.now() / 1000) || claims.exp > Date.now() / 1000 + 24 * 3600 + 60) throw new Error('exp');
          if (!/^(mailto:|https:)/.test(claims.sub)) throw new Error('sub');
          const sub = this.subscribers.get(req.url!);
          if (!sub) throw new Error('unknown subscription');
          const payload = JSON.parse(sub.decrypt(Buffer.concat(chunks)));
          this.received.push({ path: req.url!, vapidKey: m[2], claims, payload, encoding: String(req.headers['content-encoding']), ttl: String(req.headers.ttl) });
          res.writeHead(this.status.get(req.url!) ?? 201).end();
        } catch (e) {
          this.rejected.push((e as Error).message);
          res.writeHead(403).end((e as Error).message);
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('Web push', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  const pushService = new PushServiceStub();
  const edge = (proj: TestProject, path: string) => `/p/${proj.ref}/notifications/v1${path}`;
  const as = async (proj: TestProject, userId: string) => ({ apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, userId)}` });
  const send = (proj: TestProject, body: object) => t.http().post(edge(proj, '/send')).set('apikey', proj.secret).send(body);
  const deliveries = async (proj: TestProject, messageId: string) =>
    ((await t.http().get(`/v1/projects/${proj.ref}/notifications/deliveries?channel=push`).set(u.auth)).body.deliveries as Array<{ message_id: string; status: string; attempts: Array<{ status: number }> }>).filter((d) => d.message_id === messageId);

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    registerTestTokens(t);
    await pushService.start();
    u = await signup(t, 'push');
    p = await createProject(t, u, 'push');
    other = await createProject(t, u, 'push-other');
  });

  afterAll(async () => {
    await pushService.stop();
    await t?.close();
  });

  it('serves the project\'s VAPID public key to any of its keys, the same each time, sealed at rest', async () => {
    const a = await t.http().get(edge(p, '/push/vapid-public-key')).set('apikey', p.publishable);
    expect(a.status).toBe(200);
    expect(Buffer.from(a.body.public_key, 'base64url')).toHaveLength(65);
    expect((await t.http().get(edge(p, '/push/vapid-public-key')).set('apikey', p.secret)).body.public_key).toBe(a.body.public_key);
    expect((await t.http().get(edge(other, '/push/vapid-public-key')).set('apikey', other.publishable)).body.public_key).not.toBe(a.body.public_key);
    expect((await t.http().get(edge(p, '/push/vapid-public-key'))).status).toBe(401);
    const stored = await t.sql.query(`SELECT private_sealed FROM control.notification_vapid_keys WHERE project_id = $1`, [p.id]);
    expect(stored.rows[0].private_sealed).toMatch(/^v1\./);
  });

  it('registers, lists and removes the signed-in user\'s subscriptions; bad input 400, no user 401', async () => {
    const userId = randomUUID();
    const s = pushService.subscriber('list-me');
    const created = await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, userId)).send(s.json());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), endpoint: s.endpoint });
    expect((await t.http().get(edge(p, '/push/subscriptions')).set(await as(p, userId))).body.subscriptions.map((x: { endpoint: string }) => x.endpoint)).toEqual([s.endpoint]);
    for (const bad of [{ endpoint: 'ftp://x', keys: s.json().keys }, { endpoint: s.endpoint, keys: { p256dh: 'short', auth: 'x' } }, { endpoint: s.endpoint }]) {
      expect((await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, userId)).send(bad)).status).toBe(400);
    }
    expect((await t.http().post(edge(p, '/push/subscriptions')).set('apikey', p.secret).send(s.json())).status).toBe(401);
    expect((await t.http().delete(edge(p, '/push/subscriptions')).set(await as(p, userId)).send({ endpoint: s.endpoint })).status).toBe(204);
    expect((await t.http().get(edge(p, '/push/subscriptions')).set(await as(p, userId))).body.subscriptions).toEqual([]);
    expect((await t.http().delete(edge(p, '/push/subscriptions')).set(await as(p, userId)).send({ endpoint: s.endpoint })).status).toBe(404);
  });

  it('pushes a send to each of the user\'s subscriptions: VAPID-signed for the push service\'s origin, decryptable only with the subscription\'s key', async () => {
    const userId = randomUUID();
    const [phone, laptop] = [pushService.subscriber('phone'), pushService.subscriber('laptop')];
    for (const s of [phone, laptop]) expect((await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, userId)).send(s.json())).status).toBe(201);
    const publicKey = (await t.http().get(edge(p, '/push/vapid-public-key')).set('apikey', p.publishable)).body.public_key;
    const res = await send(p, { to: { user_id: userId }, content: { title: 'Ding', body: 'Your build passed' }, data: { build: 12 }, channels: ['push'] });
    expect(res.status).toBe(202);
    const got = await waitFor('two pushes', async () => {
      const r = pushService.received.filter((x) => x.path === '/push/phone' || x.path === '/push/laptop');
      return r.length === 2 ? r : undefined;
    });
    expect(pushService.rejected).toEqual([]);
    for (const r of got) {
      expect(r.vapidKey).toBe(publicKey);
      expect(r.encoding).toBe('aes128gcm');
      expect(r.payload).toEqual({ message_id: res.body.id, title: 'Ding', body: 'Your build passed', data: { build: 12 } });
    }
    const logged = await waitFor('push deliveries succeeded', async () => {
      const ds = await deliveries(p, res.body.id);
      return ds.length === 2 && ds.every((d) => d.status === 'succeeded') ? ds : undefined;
    });
    expect(logged[0].attempts[0].status).toBe(201);
  });

  it('removes a subscription the push service says is gone (410) and marks the delivery dead; a push opt-out sends nothing', async () => {
    const userId = randomUUID();
    const gone = pushService.subscriber('gone');
    pushService.status.set('/push/gone', 410);
    await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, userId)).send(gone.json());
    const res = await send(p, { to: { user_id: userId }, content: { title: 'bye' }, channels: ['push'] });
    await waitFor('dead delivery', async () => (await deliveries(p, res.body.id))[0]?.status === 'dead');
    expect((await t.http().get(edge(p, '/push/subscriptions')).set(await as(p, userId))).body.subscriptions).toEqual([]);

    const quiet = pushService.subscriber('quiet');
    const quietUser = randomUUID();
    await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, quietUser)).send(quiet.json());
    await t.http().put(edge(p, '/preferences')).set(await as(p, quietUser)).send({ channels: { push: false } });
    const muted = await send(p, { to: { user_id: quietUser }, content: { title: 'shh' }, channels: ['push'] });
    await new Promise((r) => setTimeout(r, 600));
    expect(await deliveries(p, muted.body.id)).toEqual([]);
    expect(pushService.received.filter((x) => x.path === '/push/quiet')).toEqual([]);
  });

  it('keeps subscriptions to their user and project', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const s = pushService.subscriber('mine');
    await t.http().post(edge(p, '/push/subscriptions')).set(await as(p, a)).send(s.json());
    // Another user can't see or remove it; the same user id in another project has none; a foreign token is refused.
    expect((await t.http().get(edge(p, '/push/subscriptions')).set(await as(p, b))).body.subscriptions).toEqual([]);
    expect((await t.http().delete(edge(p, '/push/subscriptions')).set(await as(p, b)).send({ endpoint: s.endpoint })).status).toBe(404);
    expect((await t.http().delete(edge(other, '/push/subscriptions')).set(await as(other, a)).send({ endpoint: s.endpoint })).status).toBe(404);
    expect((await t.http().get(edge(other, '/push/subscriptions')).set({ apikey: other.publishable, authorization: `Bearer ${await signUserToken(p.ref, a)}` })).status).toBe(401);
    const res = await send(other, { to: { user_id: a }, content: { title: 'from other' }, channels: ['push'] });
    await new Promise((r) => setTimeout(r, 600));
    expect(await deliveries(other, res.body.id)).toEqual([]);
    expect(pushService.received.filter((x) => x.path === '/push/mine')).toEqual([]);
    expect((await t.http().get(edge(p, '/push/subscriptions')).set(await as(p, a))).body.subscriptions).toHaveLength(1);
  });

  it('refuses push endpoints on private addresses or without https when the app refuses private targets', async () => {
    const prod = await bootTestApp({ OUTBOUND_ALLOW_PRIVATE: 'false' });
    try {
      registerTestTokens(prod);
      const owner = await signup(prod, 'push-prod');
      const proj = await createProject(prod, owner, 'push-prod');
      const auth = { apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, randomUUID())}` };
      const keys = new Subscriber('https://push.example.com/x').json().keys;
      for (const endpoint of [`${pushService.origin}/push/x`, 'https://127.0.0.1/push', 'https://169.254.169.254/latest', 'http://push.example.com/x']) {
        const res = await prod.http().post(`/p/${proj.ref}/notifications/v1/push/subscriptions`).set(auth).send({ endpoint, keys });
        expect([endpoint, res.status]).toEqual([endpoint, 400]);
      }
      expect((await prod.http().get(`/p/${proj.ref}/notifications/v1/push/subscriptions`).set(auth)).body.subscriptions).toEqual([]);
    } finally {
      await prod.close();
    }
  });
});
