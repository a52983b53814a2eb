import type { PlinthConfig } from '@plinth/config';
import { banUntil } from './auth-admin.service';
import { defaultAuthSettings } from './auth-config.dto';
import { normalizeEmail } from './auth.dto';
import { renderTemplate } from './auth-mailer';
import { AuthService } from './auth.service';
import { GOTRUE_DIALECT, GoTrueException } from './gotrue.exception';
import { weakPasswordReasons } from './password';
import { SecretBox } from './secret-box';

const config = { secret: 'unit-test-secret-unit-test-secret-0123', http: { publicUrl: 'https://api.example.com' } } as PlinthConfig;

describe(SecretBox.name, () => {
  const sut = new SecretBox(config);

  it('round-trips a sealed value, bound to its context', () => {
    const sealed = sut.seal('private key', 'signing-key:p1:k1');
    expect(sealed).not.toContain('private key');
    expect(sut.open(sealed, 'signing-key:p1:k1')).toBe('private key');
    expect(() => sut.open(sealed, 'signing-key:p2:k1')).toThrow();
    const [v, iv, tag, ct] = sealed.split('.');
    // The first character of base64 text carries six data bits, so changing it always changes the ciphertext.
    const flipped = `${v}.${iv}.${tag}.${ct.startsWith('A') ? 'B' : 'A'}${ct.slice(1)}`;
    expect(flipped).not.toBe(sealed);
    expect(() => sut.open(flipped, 'signing-key:p1:k1')).toThrow();
  });

  it('keys code hashes by secret and context', () => {
    expect(sut.mac('123456', 'a')).toBe(sut.mac('123456', 'a'));
    expect(sut.mac('123456', 'a')).not.toBe(sut.mac('123456', 'b'));
    expect(new SecretBox({ ...config, secret: 'another-secret-another-secret-0123' }).mac('123456', 'a')).not.toBe(sut.mac('123456', 'a'));
  });
});

describe('weakPasswordReasons', () => {
  it('checks length and required character classes', () => {
    expect(weakPasswordReasons('short', 8, 'none')).toEqual(['length']);
    expect(weakPasswordReasons('longenough', 8, 'none')).toEqual([]);
    expect(weakPasswordReasons('longenough', 8, 'letters_digits')).toEqual(['characters']);
    expect(weakPasswordReasons('Longenough1', 8, 'lower_upper_digits')).toEqual([]);
    expect(weakPasswordReasons('Longenough1', 8, 'lower_upper_digits_symbols')).toEqual(['characters']);
  });
});

describe('normalizeEmail', () => {
  it('lower-cases valid addresses and refuses malformed or overlong ones with email_address_invalid', () => {
    expect(normalizeEmail(' Ada@Example.COM ')).toBe('ada@example.com');
    for (const bad of ['plain', 'a@b', 'a b@c.com', '@c.com', `${'a'.repeat(65)}@c.com`, 'a@-c.com']) {
      expect(() => normalizeEmail(bad)).toThrow(GoTrueException);
    }
  });
});

describe('banUntil', () => {
  it('parses Go durations and refuses anything else', () => {
    const now = Date.now();
    expect(banUntil('24h').getTime() - now).toBeGreaterThanOrEqual(86_400_000 - 50);
    expect(banUntil('1h30m').getTime() - now).toBeGreaterThanOrEqual(5_400_000 - 50);
    for (const bad of ['', '24', 'h', '1d', '-1h', '1h; drop']) expect(() => banUntil(bad)).toThrow(GoTrueException);
  });
});

describe('renderTemplate', () => {
  it('fills GoTrue variables, HTML-escaped, and leaves unknown ones', () => {
    expect(renderTemplate('<a href="{{ .ConfirmationURL }}">{{.Token}}</a> {{ .Nope }}', { ConfirmationURL: 'https://x/?a=1&b="2"', Token: '123456' })).toBe(
      '<a href="https://x/?a=1&#38;b=&#34;2&#34;">123456</a> {{ .Nope }}',
    );
  });
});

describe('GOTRUE_DIALECT', () => {
  it('renders standard errors in GoTrue shape (an invalid user token is 403 bad_jwt)', () => {
    const e = GOTRUE_DIALECT.render({ status: 401, code: 'unauthorized', message: 'Invalid or expired access token' });
    expect(e.status).toBe(403);
    expect(e.body).toMatchObject({ code: 403, error_code: 'bad_jwt' });
    const crash = GOTRUE_DIALECT.render({ status: 500, code: 'internal_error', message: 'An unexpected error occurred', errorId: 'id-1' });
    expect(crash.body).toEqual({ code: 500, error_code: 'unexpected_failure', msg: 'An unexpected error occurred', error_id: 'id-1' });
  });
});

describe(`${AuthService.name}.safeRedirect`, () => {
  // safeRedirect reads only the config; the other collaborators are left out (whatever their number).
  const sut = new (AuthService as unknown as new (c: typeof config) => AuthService)(config);
  const settings = { ...defaultAuthSettings(), site_url: 'https://app.example.com', redirect_urls: ['https://*.preview.example.com/**', 'myapp://callback'] };

  it('allows the site, allow-listed globs and exact URLs; anything else falls back to the site URL', () => {
    expect(sut.safeRedirect(settings, 'https://app.example.com/welcome')).toBe('https://app.example.com/welcome');
    expect(sut.safeRedirect(settings, 'https://pr-1.preview.example.com/a/b?c=1')).toBe('https://pr-1.preview.example.com/a/b?c=1');
    expect(sut.safeRedirect(settings, 'myapp://callback')).toBe('myapp://callback');
    for (const evil of ['https://evil.com', 'https://app.example.com.evil.com/', 'https://x.evil.com/.preview.example.com/', 'https://user:pw@app.example.com/', 'javascript:alert(1)', 'not a url']) {
      expect(sut.safeRedirect(settings, evil)).toBe('https://app.example.com');
    }
    expect(sut.safeRedirect({ ...settings, site_url: null }, undefined)).toBe('https://api.example.com');
  });

  it('matches the parsed URL, so a backslash or a look-alike host doesn’t pass a wildcard entry (table in redirect-allow-list.spec.ts)', () => {
    for (const evil of ['https://evil.com\\.preview.example.com/', 'https://evil.com\\.preview.example.com', 'https://preview.example.com.evil.com/', 'https://evil.com#.preview.example.com']) {
      expect(sut.safeRedirect(settings, evil)).toBe('https://app.example.com');
    }
  });
});
