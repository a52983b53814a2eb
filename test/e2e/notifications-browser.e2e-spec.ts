import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, chromium } from 'playwright-core';
import { registerTestTokens, signUserToken } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestProject } from '../support/test-app';

/**
 * The inbox stream as a browser reads it: Chromium's own EventSource on a page of another origin, with the key and
 * the user's token in the query (a browser's EventSource can't send headers), receiving a send as it happens.
 */
describe('Notifications inbox stream in Chromium', () => {
  let t: TestApp;
  let p: TestProject;
  let page: Server;
  let pageUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
    registerTestTokens(t);
    p = await createProject(t, await signup(t, 'browser'), 'browser');
    page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>inbox</title><script>
        window.received = [];
        window.start = (url) => {
          const es = new EventSource(url);
          es.addEventListener('notification', (e) => window.received.push({ id: e.lastEventId, item: JSON.parse(e.data) }));
          return new Promise((resolve, reject) => { es.onopen = () => resolve('open'); es.onerror = () => reject(new Error('stream failed')); });
        };
      </script>`);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => page?.close(r));
    await t?.close();
  });

  it('receives a notification sent after the page opened its stream', async () => {
    const userId = randomUUID();
    const token = await signUserToken(p.ref, userId);
    const tab = await browser.newPage();
    await tab.goto(pageUrl);
    const streamUrl = `${t.baseUrl}/p/${p.ref}/notifications/v1/inbox/stream?apikey=${encodeURIComponent(p.publishable)}&access_token=${encodeURIComponent(token)}`;
    expect(await tab.evaluate((url) => (globalThis as unknown as { start(u: string): Promise<string> }).start(url), streamUrl)).toBe('open');

    const sent = await t.http().post(`/p/${p.ref}/notifications/v1/send`).set('apikey', p.secret).send({ to: { user_id: userId }, content: { title: 'to the browser' } });
    expect(sent.status).toBe(202);
    await tab.waitForFunction(() => (globalThis as unknown as { received: unknown[] }).received.length === 1, undefined, { timeout: 15_000 });
    const received = await tab.evaluate(() => (globalThis as unknown as { received: Array<{ id: string; item: { title: string; message_id: string } }> }).received);
    expect(received[0].item).toMatchObject({ title: 'to the browser', message_id: sent.body.id });
    expect(received[0].id).toMatch(/^[0-9]+$/);
    await tab.close();
  });
});
