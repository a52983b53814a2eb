import { allowedRedirect, parseRedirectPattern } from './redirect-allow-list';

const SITE = 'https://app.example.com';
const PATTERNS = [
  'https://*.example.com/**',
  'https://**.preview.example.org/cb/*',
  'http://localhost:3000/**',
  'myapp://callback',
  'https://bücher.example.net/return',
  'https://api.example.io:8443/done?state=*',
];

describe('allowedRedirect', () => {
  it.each([
    ['the site URL itself', 'https://app.example.com/welcome', 'https://app.example.com/welcome'],
    ['one label under a wildcard host', 'https://pr-1.example.com/a/b?c=1', 'https://pr-1.example.com/a/b?c=1'],
    ['a host differing only in case', 'https://PR-2.Example.COM/x', 'https://pr-2.example.com/x'],
    ['the default port spelled out', 'https://pr-3.example.com:443/x', 'https://pr-3.example.com/x'],
    ['several labels under **', 'https://a.b.preview.example.org/cb/done', 'https://a.b.preview.example.org/cb/done'],
    ['an explicit port', 'http://localhost:3000/auth/callback', 'http://localhost:3000/auth/callback'],
    ['a custom scheme (mobile app)', 'myapp://callback', 'myapp://callback'],
    ['an IDN host written in Unicode', 'https://bücher.example.net/return', 'https://xn--bcher-kva.example.net/return'],
    ['an IDN host in punycode', 'https://xn--bcher-kva.example.net/return', 'https://xn--bcher-kva.example.net/return'],
    ['a matching query glob', 'https://api.example.io:8443/done?state=abc', 'https://api.example.io:8443/done?state=abc'],
    ['a fragment, dropped (the caller appends its own)', 'https://pr-1.example.com/x#frag', 'https://pr-1.example.com/x'],
  ])('allows %s', (_name, candidate, expected) => {
    expect(allowedRedirect(SITE, PATTERNS, candidate)).toBe(expected);
  });

  it.each([
    ['a percent-encoded backslash (raw in the query string, decoded by the router)', 'https://evil.com\\.example.com/'],
    ['a backslash that WHATWG turns into a path', 'https://evil.com\\.example.com'],
    ['%5C left encoded (not a valid host)', 'https://evil.com%5C.example.com/'],
    ['the allowed domain as a prefix of another', 'https://example.com.evil.com'],
    ['the allowed domain as a subdomain of another', 'https://x.example.com.evil.com/'],
    ['the allowed domain in the fragment', 'https://evil.com#.example.com'],
    ['the allowed domain in the query', 'https://evil.com?.example.com'],
    ['the allowed domain in the path', 'https://evil.com/.example.com/'],
    ['credentials before the host', 'https://user@evil.com'],
    ['an allowed host as the user name', 'https://a.example.com@evil.com/'],
    ['credentials on an allowed host', 'https://user:pw@app.example.com/'],
    ['a scheme-relative URL', '//evil.com'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a javascript: URL with an authority', 'javascript://a.example.com/%0aalert(1)'],
    ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
    ['http where https is allowed', 'http://pr-1.example.com/'],
    ['the bare parent domain of a *. pattern', 'https://example.com/'],
    ['two labels under a single *', 'https://a.b.example.com/'],
    ['another port', 'http://localhost:3001/auth'],
    ['the default port where a port is required', 'http://localhost/auth'],
    ['a path outside the pattern', 'https://a.preview.example.org/other/x'],
    ['a deeper path under a single *', 'https://a.preview.example.org/cb/x/y'],
    ['a query that doesn’t match the query glob', 'https://api.example.io:8443/done?state=a&next=https://evil.com'],
    ['a tab inside the host', 'https://evil.com\t.example.com/'],
    ['a newline inside the host', 'https://evil\n.example.com/'],
    ['a NUL byte', 'https://a.example.com%00.evil.com/'],
    ['a leading space', ' https://a.example.com/'],
    ['not a URL', 'not a url'],
    ['an empty host', 'https:///evil.com'],
  ])('refuses %s (falls back to the site URL)', (_name, candidate) => {
    expect(allowedRedirect(SITE, PATTERNS, candidate)).toBe(SITE);
  });

  it('falls back to the site URL when there is no candidate', () => {
    expect(allowedRedirect(SITE, PATTERNS, undefined)).toBe(SITE);
  });
});

describe('parseRedirectPattern', () => {
  it.each(['javascript://x/**', 'https://user@*.example.com/**', 'https://evil.com\\.example.com', 'https://exa mple.com/', 'https://*.example.com:99999/', 'https:/x', 'https://a.example.com/#frag'])(
    'refuses %j',
    (pattern) => {
      expect(parseRedirectPattern(pattern)).toBeNull();
    },
  );

  it('accepts a port wildcard and an IPv6 literal', () => {
    expect(parseRedirectPattern('http://localhost:*/**')).toMatchObject({ port: '*', host: ['localhost'] });
    expect(parseRedirectPattern('http://[::1]:3000/cb')).toMatchObject({ port: '3000', host: ['[::1]'] });
    expect(allowedRedirect(SITE, ['http://[::1]:3000/cb'], 'http://[::1]:3000/cb')).toBe('http://[::1]:3000/cb');
  });

  it('accepts a dotted IPv4 literal, matching only that address', () => {
    expect(parseRedirectPattern('https://127.0.0.1:3000')).toMatchObject({ port: '3000', host: ['127', '0', '0', '1'] });
    expect(allowedRedirect(SITE, ['http://127.0.0.1:3000/**'], 'http://127.0.0.1:3000/cb')).toBe('http://127.0.0.1:3000/cb');
    expect(allowedRedirect(SITE, ['http://127.0.0.1:3000/**'], 'http://127.0.0.2:3000/cb')).toBe(SITE);
    expect(allowedRedirect(SITE, ['http://127.0.0.1:3000/**'], 'http://127.1:3000/cb')).toBe('http://127.0.0.1:3000/cb');
    expect(parseRedirectPattern('http://127.0.0.256/')).toBeNull();
    expect(parseRedirectPattern('http://127.0.0.01/')).toBeNull();
  });
});
