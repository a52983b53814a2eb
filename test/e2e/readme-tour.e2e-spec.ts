import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fencedBlocks, REPO_ROOT, requireCurl, runBash } from '../support/markdown';
import { bootTestApp, TestApp } from '../support/test-app';

const MARKER = '<!-- readme-tour:';

/** The bash block that follows the marker comment in README.md, exactly as a reader copies it. */
function readmeTour(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no ${MARKER} marker before its curl tour`);
  const [block] = fencedBlocks('README.md', 'bash', readme.slice(at));
  if (!block) throw new Error('no ```bash block after the readme-tour marker');
  return block;
}

describe("README's curl tour", () => {
  let t: TestApp;
  beforeAll(async () => {
    requireCurl();
    t = await bootTestApp();
  });
  afterAll(() => t?.close());

  it('runs as written under bash -euo pipefail against a fresh app, and the publishable key reads the row it inserted', async () => {
    const tour = readmeTour();
    // The block's first line takes B from the environment, so the tour runs unchanged against this app's port.
    expect(tour.split('\n')[0]).toBe('B=${B:-http://127.0.0.1:3000}');
    const lines = (await runBash(tour, t.baseUrl, 'the README tour')).trim().split('\n');
    const ref = /^project ([a-z0-9]{12}) at /.exec(lines[1] ?? '')?.[1];
    expect(ref).toBeDefined();
    expect(lines).toEqual([
      expect.stringMatching(/^org [0-9a-f-]{36}$/),
      `project ${ref} at ${t.config.http.publicUrl}/p/${ref}`,
      'id int8, name text, price numeric(10,2)',
      '1 rule',
      '[{"id" : 1, "name" : "Teapot", "price" : 19.50}]',
      '[{"name" : "Teapot", "price" : 19.50}]',
      expect.stringMatching(/^end user [0-9a-f-]{36}$/),
    ]);
    // What the tour printed is what is stored.
    const { rows } = await t.sql.query(`SELECT name, price::text FROM t_${ref}.products`);
    expect(rows).toEqual([{ name: 'Teapot', price: '19.50' }]);
  }, 90_000);
});
