import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { fencedBlocks, REPO_ROOT, requireCurl, runBash } from '../support/markdown';
import { bootTestApp, TestApp } from '../support/test-app';

/** Every bash block of a guide, in order, in one shell: the guides are written to be pasted that way. */
const guideScript = (file: string) => fencedBlocks(file, 'bash').join('\n');

describe('docs/ guides: their examples run as written', () => {
  beforeAll(() => requireCurl());

  describe('with rate limits off (the test default)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootTestApp();
    });
    afterAll(() => t?.close());

    it('tables-and-rules.md: declares, changes and opens tables; anon sees published rows only, a user writes only as themself (403 otherwise)', async () => {
      const out = await runBash(guideScript('docs/tables-and-rules.md'), t.baseUrl, 'docs/tables-and-rules.md');
      const lines = out.split('\n');
      expect(lines).toContain('declared authors (primary key: id)');
      expect(lines).toContain('id int8, author_id uuid, owner_id uuid, title text, published bool, tags text[], meta jsonb');
      expect(lines).toContain('id, author_id, owner_id, title, published, tags, details, summary / indexes: posts_published_id_idx, posts_title_idx');
      expect(lines).toContain('summary varchar(280) default (none)');
      expect(lines).toContain('alter_columns.0.nullable: a primary key column is never null; alter_columns.1.name: no column "nope"');
      expect(lines).toContain('201');
      expect(lines).toContain('[{"title" : "Hello", "authors" : {"name" : "Ada"}}]');
      expect(lines.some((l) => / 400$/.test(l))).toBe(true);
      expect(lines).toContain('confirmation required: false');
      expect(lines.some((l) => /^inserted Mine owned by [0-9a-f-]{36}$/.test(l))).toBe(true);
      expect(lines.some((l) => / 403$/.test(l))).toBe(true);
      expect(lines).toContain('[{"title" : "Mine", "published" : false}]');
    }, 120_000);

    it('keys.md: a restricted key reaches only its table read-only, origin and IP lists refuse (403), rotation overlaps, a revoked key gets 401', async () => {
      const out = await runBash(guideScript('docs/keys.md'), t.baseUrl, 'docs/keys.md');
      for (const line of [
        'orders: 200',
        'customers: 403',
        'insert into orders: 403',
        'from the app: 200',
        'from elsewhere: 403',
        'no origin: 403',
        'secret key from 127.0.0.1: 403',
        'default secret key with an Origin: 403',
        'old key during the overlap: 200',
        'new key: 200',
        'revoke: 200',
        'revoked key: 401',
      ]) {
        expect(out.split('\n')).toContain(line);
      }
    }, 120_000);

    it('storage.md: buckets, uploads, public and signed URLs, a per-user-folder rule; refusals as the guide says', async () => {
      const out = await runBash(guideScript('docs/storage.md'), t.baseUrl, 'docs/storage.md');
      const lines = out.split('\n');
      for (const line of [
        'bucket avatars, limit 1048576',
        'created site',
        'uploaded site/hello.txt',
        'hello storage',
        'public URL, no key: 200',
        'range: 206',
        'again: 409 Duplicate',
        'signed URL on another path: 400',
        'rules: 2',
        'anon upload: 403',
      ]) {
        expect(lines).toContain(line);
      }
      expect(lines.filter((l) => l === 'hello storage')).toHaveLength(2);
    }, 120_000);

    it('functions.md: deploys, refuses a broken source with its line, calls with secrets and env.db, rolls back, reads logs', async () => {
      const out = await runBash(guideScript('docs/functions.md'), t.baseUrl, 'docs/functions.md');
      const lines = out.split('\n');
      for (const line of [
        'table todos',
        'rows: 201',
        'deployed hello v1',
        '{"hello":"Ada","greeting":null,"todos":["shown"]}',
        'GREETING',
        '{"hello":"world","greeting":"hola","todos":["shown"]}',
        'deployed v2',
        'v2',
        'current v1',
        '200 v2 says hi',
      ]) {
        expect(lines).toContain(line);
      }
      expect(lines.some((l) => /^The function does not compile at line 2, column \d+: /.test(l))).toBe(true);
    }, 120_000);

    it('supabase-js.md: the setup block and the todos.mjs example (supabase-js with ws) print what the guide says', async () => {
      const out = await runBash(guideScript('docs/supabase-js.md'), t.baseUrl, 'docs/supabase-js.md');
      const env = /^PLINTH_URL=(\S+) REF=(\S+) PK=(\S+)$/m.exec(out);
      expect(env).not.toBeNull();
      const [, url, ref, pk] = env!;
      const [, program] = fencedBlocks('docs/supabase-js.md', 'js');
      // Imports resolve from the working directory, where @supabase/supabase-js and ws are installed.
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], {
        cwd: REPO_ROOT,
        env: { ...process.env, PLINTH_URL: url, REF: ref, PK: pk },
        timeout: 60_000,
      });
      const printed = fencedBlocks('docs/supabase-js.md', '').find((b) => b.startsWith('anonymous read:'));
      expect(printed).toBeDefined();
      // The guide elides the generated address with "…".
      expect(stdout.replace(/ada-\d+@example\.com/g, 'ada-…@example.com')).toBe(printed);
    }, 120_000);
  });

  describe('with the job processors running (as npm start runs)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await bootTestApp({ JOBS_POLL_MS: '50' }, undefined, { withWorker: true });
    });
    afterAll(() => t?.close());

    it('notifications.md: a send reaches the end user\'s inbox once (idempotency), webhooks hide their secret, the delivery log', async () => {
      const out = await runBash(guideScript('docs/notifications.md'), t.baseUrl, 'docs/notifications.md');
      const lines = out.split('\n');
      for (const block of fencedBlocks('docs/notifications.md', '')) {
        for (const line of block.split('\n').filter(Boolean)) expect(lines).toContain(line);
      }
    }, 120_000);
  });

  describe('with rate limits on (as npm start runs)', () => {
    let t: TestApp;
    beforeAll(async () => {
      // A faster flush than the default the guide's `sleep 3` waits for, so a loaded machine still makes it.
      t = await bootTestApp({ RATE_LIMITS_ENABLED: 'true', METERING_FLUSH_MS: '200' });
    });
    afterAll(() => t?.close());

    it('usage-limits-and-billing.md: counts usage, a meter cap answers 402 and a rate limit 429, plan changes and invoices', async () => {
      const out = await runBash(guideScript('docs/usage-limits-and-billing.md'), t.baseUrl, 'docs/usage-limits-and-billing.md');
      const lines = out.split('\n').map((l) => l.trimEnd());
      expect(lines).toContain('requests this month: 3 of 500000');
      expect(lines).toContain('200 200 200 402 402');
      expect(lines).toContain('200 200 429');
      expect(lines).toContain('limits: {} null');
      expect(lines).toContain('mode ledger_only, plan free, cost so far 0');
      expect(lines).toContain('upgrade to pro');
      expect(lines.some((l) => /^\S+ subscription_create 2500 usd$/.test(l))).toBe(true);
      expect(lines).toContain('spend cap 5000');
      expect(lines.some((l) => /^downgrade: free from \S+ \(pending free\)$/.test(l))).toBe(true);
      expect(lines).toContain('cancel_downgrade');
    }, 120_000);
  });
});

describe('links in README.md and docs/', () => {
  const files = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

  it.each(files)('%s links only to files that exist in the repository', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    for (const target of targets) {
      // No links out of the repository: the docs must hold without the network.
      expect([file, target, /^[a-z][a-z0-9+.-]*:/i.test(target)]).toEqual([file, target, false]);
      const path = normalize(join(dirname(file), target.split('#')[0]));
      expect([file, target, !path.startsWith('..') && existsSync(join(REPO_ROOT, path))]).toEqual([file, target, true]);
    }
  });
});
