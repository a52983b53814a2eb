import { domainToASCII } from 'node:url';

/**
 * Redirect allow-list matching on parsed URLs. A glob over the raw string is fooled by whatever the URL parser
 * later rewrites (`https://evil.com\.example.com` is `https://evil.com/.example.com` to a browser), so both the
 * candidate and the pattern are taken apart first and compared part by part: scheme, host (WHATWG-normalised:
 * lower case, punycode), port, then path. In a host, `*` stays within one DNS label and `**` spans whole
 * labels; in a path, `*` stays within one segment and `**` spans segments.
 */
export interface RedirectPattern {
  scheme: string;
  /** Labels of the host pattern (lower case, punycode), or the bracketed IPv6 literal as one entry. */
  host: string[];
  /** Explicit port, '' for the scheme's default, '*' for any. */
  port: string;
  path: RegExp;
  /** A query glob when the pattern has one; otherwise any query is allowed (it doesn't change where the browser goes). */
  query: RegExp | null;
}

/** Schemes never redirected to, whatever the allow-list says: they run code or read local data. */
const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'vbscript', 'file', 'blob']);
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443', ftp: '21' };
/** Characters WHATWG URL parsing drops or rewrites (backslash becomes a slash; tabs and newlines vanish). */
const REWRITTEN = /[\\\s\u0000-\u001f\u007f]/;
const PATTERN = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/i;
const HOST_LABEL = /^(\*\*|[a-z0-9_*-]+)$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The parts of an allow-list entry, or null when it isn't a usable `scheme://host[:port][/path][?query]` pattern. */
export function parseRedirectPattern(raw: string): RedirectPattern | null {
  if (REWRITTEN.test(raw)) return null;
  const m = PATTERN.exec(raw);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  if (FORBIDDEN_SCHEMES.has(scheme)) return null;
  const authority = m[2];
  if (!authority || authority.includes('@')) return null;
  let hostPart = authority;
  let port = '';
  const portMatch = /:(\d{1,5}|\*)$/.exec(authority);
  if (portMatch) {
    hostPart = authority.slice(0, portMatch.index);
    if (portMatch[1] === '*') port = '*';
    else {
      const n = Number(portMatch[1]);
      if (n < 1 || n > 65535) return null;
      port = String(n) === DEFAULT_PORTS[scheme] ? '' : String(n);
    }
  }
  let host: string[];
  if (hostPart.startsWith('[')) {
    if (!/^\[[0-9a-f:.]+\]$/i.test(hostPart)) return null;
    host = [hostPart.toLowerCase()];
  } else if (IPV4.test(hostPart)) {
    // A dotted IPv4 literal (GoTrue's allow-lists take `http://127.0.0.1:3000`): its labels are octets, which
    // domainToASCII would read as whole addresses ('127' → '0.0.0.127'). Compared label by label as the URL parser
    // prints the candidate's address.
    if (hostPart.split('.').some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0')))) return null;
    host = hostPart.split('.');
  } else {
    host = hostPart.toLowerCase().split('.');
    for (let i = 0; i < host.length; i++) {
      const label = host[i].includes('*') ? host[i] : domainToASCII(host[i]) || host[i];
      if (!HOST_LABEL.test(label)) return null;
      host[i] = label;
    }
  }
  const rest = m[3];
  const q = rest.indexOf('?');
  // An empty path is the root (special schemes always parse to at least '/'; candidates get the same treatment).
  const path = (q === -1 ? rest : rest.slice(0, q)) || '/';
  return { scheme, host, port, path: globRegExp(path, '/'), query: q === -1 ? null : globRegExp(rest.slice(q + 1), '&') };
}

/** The candidate as a URL when it is an absolute `scheme://host…` URL that a browser reads the same way, else null. */
export function parseRedirectCandidate(raw: string): URL | null {
  if (REWRITTEN.test(raw) || !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]/i.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password || !url.hostname) return null;
  if (FORBIDDEN_SCHEMES.has(url.protocol.slice(0, -1))) return null;
  return url;
}

export function matchesRedirectPattern(url: URL, p: RedirectPattern): boolean {
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== p.scheme) return false;
  const port = url.port === DEFAULT_PORTS[scheme] ? '' : url.port;
  if (p.port !== '*' && p.port !== port) return false;
  const hostname = url.hostname.toLowerCase();
  if (hostname.startsWith('[') ? p.host.length !== 1 || p.host[0] !== hostname : !labelsMatch(p.host, hostname.split('.'))) return false;
  if (!p.path.test(url.pathname || '/')) return false;
  return p.query === null || p.query.test(url.search.slice(1));
}

/**
 * Where to send the browser: `candidate` if it is on the site URL's origin or matches an allow-list entry (its
 * fragment dropped: the caller appends its own), otherwise the site URL.
 */
export function allowedRedirect(site: string, patterns: readonly string[], candidate: string | undefined): string {
  if (!candidate) return site;
  const url = parseRedirectCandidate(candidate);
  if (!url) return site;
  url.hash = '';
  const siteOrigin = new URL(site).origin;
  if (siteOrigin !== 'null' && url.origin === siteOrigin) return url.href;
  for (const raw of patterns) {
    const p = parseRedirectPattern(raw);
    if (p && matchesRedirectPattern(url, p)) return url.href;
  }
  return site;
}

function labelsMatch(pattern: string[], labels: string[]): boolean {
  if (!pattern.length) return !labels.length;
  const [head, ...rest] = pattern;
  if (head === '**') {
    for (let n = 1; n <= labels.length; n++) if (labelsMatch(rest, labels.slice(n))) return true;
    return false;
  }
  if (!labels.length || !globRegExp(head, '.').test(labels[0])) return false;
  return labelsMatch(rest, labels.slice(1));
}

/** `**` matches anything, `*` anything but `sep`; everything else literally. */
function globRegExp(glob: string, sep: string): RegExp {
  const esc = (s: string) => s.replace(/[.+?^${}()|[\]\\/*-]/g, '\\$&');
  const body = glob
    .split('**')
    .map((part) => part.split('*').map(esc).join(`[^${esc(sep)}]*`))
    .join('.*');
  return new RegExp(`^${body}$`);
}
