/**
 * Runs supabase's own auth-js test cases against Plinth's GoTrue dialect (`/p/:ref/auth/v1`).
 *
 *   node -r @swc-node/register test/compat/auth-js.ts <supabase-js git dir | auth-js checkout> [jest args…]
 *
 * Their tests are never copied into this repo: they are extracted from the snapshot given as the argument (a git
 * directory of supabase/supabase-js or supabase/auth-js, read with `git archive`, or a plain checkout) into
 * `.plinth/compat/auth-js/` and run with their own runner (jest) unchanged. What this script adapts is the
 * environment their Supabase CLI setup (`test/supabase/config.toml`) provides:
 * - a Plinth api on its own database, with one project configured like their CLI project (site URL
 *   `http://127.0.0.1:3000`, email confirmations off, anonymous sign-ins on, Google enabled, manual linking off,
 *   TOTP on, minimum password length 6, limits as high as theirs);
 * - the API gateway their clients talk to at `http://127.0.0.1:54321/auth/v1` (Kong in the CLI): it forwards to
 *   `/p/<ref>/auth/v1` and, like Kong does for the CLI's keys, swaps their anon / service-role JWTs (signed with the
 *   RSA key this script generates into `test/supabase/signing_keys.json`) for the project's publishable / secret
 *   key. Users' access tokens pass through untouched.
 * Their TypeScript is compiled with the swc transform this repo's jest uses (no ts-jest here); `@faker-js/faker`, the
 * one dev dependency of theirs this repo lacks, is installed into `.plinth/compat/deps` on the first run.
 *
 * Prints pass / fail counts per area (OAuth, PKCE, MFA TOTP, identity linking, the rest) and every failure with its
 * first error line; the jest JSON report stays in `.plinth/compat/auth-js-results.json`.
 * Needs DATABASE_URL (a server where it may create a database; it drops it afterwards) and optionally REDIS_URL.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createPublicKey, createVerify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import globalSetup, { deleteTestRedisKeys, dropTestDatabase } from '../support/global-setup';
import { SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, signup, TestProject, upgradeOrg } from '../support/test-app';

const REPO = resolve(__dirname, '../..');
const WORK = join(REPO, '.plinth/compat');
const GATEWAY_PORT = 54321; // hard-wired in their test/lib/clients.ts
/** The test files whose cases exercise the server (the rest of their suite is client-only unit tests). */
const DEFAULT_FILES = ['test/GoTrueClient.test.ts', 'test/GoTrueClient.pkce.test.ts', 'test/GoTrueApi.test.ts'];

/** Which area of the issue a case belongs to, from its describe path and title (first match wins). */
const AREAS: Array<[string, RegExp]> = [
  ['WebAuthn / passkeys (not in Plinth)', /webauthn|passkey/i],
  ['OAuth 2.1 server admin (not in Plinth)', /OAuth Admin/],
  ['PKCE', /pkce|code verifier|exchangeCodeForSession|flow id|verifier slot/i],
  ['MFA TOTP', /\bMFA\b|mfa\.|AuthenticatorAssuranceLevel|_listFactors|factor/i],
  ['identity linking', /Identity Management|linkIdentity|unlinkIdentity|getUserIdentities/],
  ['OAuth / OIDC (server side)', /oAuth providers|signInWithOAuth|OIDC|IdToken|Provider/i],
];

function extract(snapshot: string, dest: string): string {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const isGitDir = existsSync(join(snapshot, 'HEAD')) && existsSync(join(snapshot, 'objects'));
  if (!isGitDir) {
    const root = existsSync(join(snapshot, 'packages/core/auth-js')) ? join(snapshot, 'packages/core/auth-js') : snapshot;
    execFileSync('cp', ['-r', `${root}/.`, dest]);
    return dest;
  }
  const tree = execFileSync('git', ['--git-dir', snapshot, 'ls-tree', '--name-only', 'HEAD'], { encoding: 'utf8' });
  const prefix = tree.split('\n').includes('packages') ? 'packages/core/auth-js' : '';
  const commit = execFileSync('git', ['--git-dir', snapshot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  const tar = execFileSync('git', ['--git-dir', snapshot, 'archive', 'HEAD', ...(prefix ? [prefix] : [])], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dest, ...(prefix ? ['--strip-components=3'] : [])], { input: tar });
  console.log(`auth-js from ${snapshot} @ ${commit}${prefix ? ` (${prefix})` : ''}`);
  return dest;
}

function ensureDeps(): string {
  const deps = join(WORK, 'deps');
  if (!existsSync(join(deps, 'node_modules/@faker-js/faker'))) {
    mkdirSync(deps, { recursive: true });
    execFileSync('npm', ['install', '--prefix', deps, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '@faker-js/faker@^9.9.0'], { stdio: 'inherit' });
  }
  return join(deps, 'node_modules');
}

/** The Kong of their CLI setup: /auth/v1 → the project's /p/<ref>/auth/v1, their static JWTs → the project's keys. */
function startGateway(target: string, project: TestProject, publicKeyPem: string): Promise<http.Server> {
  const pub = createPublicKey(publicKeyPem);
  const roleOf = (token: string): string | null => {
    const [h, p, s] = token.split('.');
    if (!h || !p || !s) return null;
    const v = createVerify('RSA-SHA256');
    v.update(`${h}.${p}`);
    if (!v.verify(pub, Buffer.from(s, 'base64url'))) return null;
    return (JSON.parse(Buffer.from(p, 'base64url').toString()) as { role?: string }).role ?? null;
  };
  const swap = (token: string): string => {
    const role = roleOf(token);
    if (role === 'anon') return project.publishable;
    if (role === 'service_role' || role === 'supabase_admin') return project.secret;
    return token;
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/auth/v1')) {
      res.writeHead(404).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    delete headers.host;
    if (typeof headers.apikey === 'string') headers.apikey = swap(headers.apikey);
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) headers.authorization = `Bearer ${swap(auth.slice(7))}`;
    const up = http.request(`${target}/p/${project.ref}${url}`, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(GATEWAY_PORT, '127.0.0.1', () => ok(server));
  });
}

interface JestAssertion {
  ancestorTitles: string[];
  title: string;
  status: string;
  failureMessages: string[];
}
interface JestReport {
  numPassedTests: number;
  numFailedTests: number;
  testResults: Array<{ name: string; message: string; assertionResults: JestAssertion[] }>;
}

function summarize(report: JestReport): void {
  const areas = new Map<string, { passed: number; failed: number; failures: string[] }>();
  for (const file of report.testResults) {
    const short = file.name.replace(/^.*\/test\//, 'test/');
    if (file.assertionResults.length === 0 && file.message) console.log(`${short} did not run:\n${file.message.slice(0, 2000)}`);
    for (const a of file.assertionResults) {
      const full = [short, ...a.ancestorTitles, a.title].join(' › ');
      const area = AREAS.find(([, re]) => re.test(file.name.endsWith('pkce.test.ts') ? `pkce ${full}` : full))?.[0] ?? 'other (already claimed)';
      const entry = areas.get(area) ?? { passed: 0, failed: 0, failures: [] };
      if (a.status === 'passed') entry.passed++;
      else if (a.status === 'failed') {
        entry.failed++;
        const why = (a.failureMessages[0] ?? '').split('\n').find((l) => l.trim()) ?? '';
        entry.failures.push(`${full}\n      ${why.trim().slice(0, 300)}`);
      }
      areas.set(area, entry);
    }
  }
  console.log('\narea                                   passed  failed');
  for (const [area, e] of [...areas].sort()) console.log(`${area.padEnd(38)} ${String(e.passed).padStart(6)}  ${String(e.failed).padStart(6)}`);
  console.log(`${'total'.padEnd(38)} ${String(report.numPassedTests).padStart(6)}  ${String(report.numFailedTests).padStart(6)}`);
  for (const [area, e] of [...areas].sort()) {
    if (e.failures.length === 0) continue;
    console.log(`\nfailures in ${area}:`);
    for (const f of e.failures) console.log(`  ✗ ${f}`);
  }
}

async function main(): Promise<void> {
  const [snapshot, ...jestArgs] = process.argv.slice(2);
  if (!snapshot) throw new Error('usage: node -r @swc-node/register test/compat/auth-js.ts <supabase-js git dir | auth-js checkout> [jest args…]');
  const root = extract(resolve(snapshot), join(WORK, 'auth-js'));
  const depsModules = ensureDeps();
  execFileSync('node', ['test/generate-signing-keys.js'], { cwd: root, stdio: 'ignore' });
  const [rsa] = JSON.parse(readFileSync(join(root, 'test/supabase/signing_keys.json'), 'utf8')) as Array<Record<string, string>>;
  const publicKeyPem = createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();

  await globalSetup();
  const smtp = new SmtpCapture();
  await smtp.start();
  const t = await bootTestApp({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
  let gateway: http.Server | undefined;
  try {
    const owner = await signup(t, 'authjs-owner');
    await upgradeOrg(t, owner);
    const project = await createProject(t, owner, 'auth-js');
    // Their CLI project's [auth] settings (test/supabase/config.toml).
    const cfg = await t.http().patch(`/v1/projects/${project.ref}/auth/config`).set(owner.auth).send({
      site_url: 'http://127.0.0.1:3000',
      redirect_urls: ['https://127.0.0.1:3000', 'http://localhost:5173'],
      signup_enabled: true,
      email_confirm_required: false,
      anonymous_sign_ins: true,
      password_min_length: 6,
      access_token_ttl_seconds: 3600,
      otp_ttl_seconds: 3600,
      refresh_token_reuse_interval_seconds: 10,
      update_password_require_reauthentication: false,
      manual_linking_enabled: false,
      rate_limits: {
        sign_in_per_ip: 100_000, password_per_account: 10_000, token_refresh_per_ip: 100_000, verify_per_ip: 100_000,
        emails_per_hour: 100_000, email_requests_per_ip: 100_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 100_000,
      },
      providers: {
        google: { enabled: true, client_id: '53566906701-bmhc1ndue7hild39575gkpimhs06b7ds.apps.googleusercontent.com', client_secret: 'not-used-offline' },
      },
    });
    if (cfg.status !== 200) throw new Error(`configuring the project: ${cfg.status} ${JSON.stringify(cfg.body)}`);
    gateway = await startGateway(t.baseUrl, project, publicKeyPem);
    console.log(`Plinth at ${t.baseUrl}, project ${project.ref}, their clients at http://127.0.0.1:${GATEWAY_PORT}/auth/v1`);

    const jestConfig = {
      rootDir: root,
      testEnvironment: 'node',
      transform: {
        '^.+\\.(t|j)sx?$': [
          require.resolve('@swc/jest'),
          { swcrc: false, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
        ],
      },
      moduleDirectories: ['node_modules', depsModules, join(REPO, 'node_modules')],
      testPathIgnorePatterns: ['/node_modules/', '/docker-tests/', '/example/'],
    };
    writeFileSync(join(WORK, 'jest.config.json'), JSON.stringify(jestConfig));
    const out = join(WORK, 'auth-js-results.json');
    rmSync(out, { force: true });
    const files = jestArgs.some((a) => !a.startsWith('-')) ? [] : DEFAULT_FILES;
    // Asynchronously: this process serves the api and the gateway their tests talk to.
    const child = spawn(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--config', join(WORK, 'jest.config.json'), '--runInBand', '--ci', '--silent', '--forceExit', '--json', '--outputFile', out, ...files, ...jestArgs],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const status = await new Promise<number | null>((ok) => child.on('exit', ok));
    if (!existsSync(out)) throw new Error(`jest wrote no report (exit ${status})`);
    summarize(JSON.parse(readFileSync(out, 'utf8')) as JestReport);
  } finally {
    gateway?.close();
    await t.close();
    await smtp.stop();
    await dropTestDatabase();
    await deleteTestRedisKeys();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
