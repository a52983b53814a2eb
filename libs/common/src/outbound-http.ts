import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, connect as netConnect, isIP, LookupFunction, Socket } from 'node:net';

/**
 * Addresses a customer-supplied URL must not reach from inside our network: loopback, private (RFC 1918, ULA),
 * link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, benchmarking, documentation, multicast,
 * reserved, and IPv4-mapped IPv6 (so a mapped private address can't slip through). One list per family: a
 * BlockList matches IPv4 addresses against IPv6 rules as IPv4-mapped, so the mapped range would block them all.
 */
const NON_PUBLIC_V4 = blockList('ipv4', [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
]);
const NON_PUBLIC_V6 = blockList('ipv6', [
  ['::', 127],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
]);

function blockList(family: 'ipv4' | 'ipv6', subnets: Array<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of subnets) list.addSubnet(net, prefix, family);
  return list;
}

/** Whether an IP address is a public unicast one (false for anything that isn't an IP address). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !NON_PUBLIC_V4.check(address, 'ipv4') : !NON_PUBLIC_V6.check(address, 'ipv6');
}

export class OutboundAddressError extends Error {
  readonly code = 'EADDRNOTPUBLIC';
}

/** `dns.lookup` with `all: true`; tests pass a fake one so no name is resolved on the network. */
export type OutboundResolver = (hostname: string, options: { all: true; family?: number }, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** What every outbound connection to a customer-chosen host is given: whether non-public addresses are allowed. */
export interface OutboundPolicy {
  allowPrivate: boolean;
  /** Name resolution (default `dns.lookup`). */
  resolve?: OutboundResolver;
}

const systemResolver: OutboundResolver = (hostname, options, callback) =>
  dnsLookup(hostname, options, (err, addresses) => callback(err, addresses ?? []));

const isLoopbackName = (host: string) => {
  const name = host.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
};

/** `[::1]` → `::1`: hosts may come in URL form. */
const bareHost = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

/**
 * A socket `lookup` that resolves the name and, unless `allowPrivate`, keeps only public addresses (fails with
 * OutboundAddressError when none is left). Given to the socket itself, so the address checked is the address
 * connected to: a name can't resolve to a public address for a check and a private one for the connection.
 */
export function outboundLookup(policy: OutboundPolicy): LookupFunction {
  const resolve = policy.resolve ?? systemResolver;
  return (hostname, options, callback) => {
    // RFC 6761: these names are loopback whatever a resolver says (and must not leak to DNS).
    if (!policy.allowPrivate && isLoopbackName(hostname)) {
      return callback(new OutboundAddressError(`refusing to connect to ${hostname}: it is a loopback name`), '', 0);
    }
    resolve(hostname, { all: true, family: options.family as number | undefined }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const usable = policy.allowPrivate ? addresses : addresses.filter((a) => isPublicAddress(a.address));
      if (usable.length === 0) return callback(new OutboundAddressError(`refusing to connect to ${hostname}: it resolves only to non-public addresses`), '', 0);
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      else callback(null, usable[0].address, usable[0].family);
    });
  };
}

/** A literal address never reaches a socket's lookup, so it is checked before connecting. */
function refuseLiteral(host: string, policy: OutboundPolicy): OutboundAddressError | null {
  return !policy.allowPrivate && isIP(host) && !isPublicAddress(host) ? new OutboundAddressError(`refusing to connect to the non-public address ${host}`) : null;
}

/**
 * Why a customer-supplied host is refused when it is saved (null when it is fine now): a literal non-public
 * address in any spelling the WHATWG URL parser accepts (`127.1`, `0x7f000001`, `[::1]`), or `localhost` and
 * `*.localhost` (RFC 6761: always loopback). Other names are only checked when connecting, since what they
 * resolve to can change.
 */
export function nonPublicHostReason(host: string): string | null {
  // Node's own reading first (it takes what the URL parser refuses, e.g. a zone id `fe80::1%eth0`).
  if (isIP(bareHost(host)) && !isPublicAddress(bareHost(host))) return `${host} is a non-public address (loopback, private, link-local or reserved)`;
  let canonical: string;
  try {
    canonical = bareHost(new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname);
  } catch {
    return null;
  }
  if (isLoopbackName(canonical)) return `${host} is a loopback name`;
  if (isIP(canonical) && !isPublicAddress(canonical)) return `${host} is a non-public address (loopback, private, link-local or reserved)`;
  return null;
}

/**
 * Opens a TCP connection to a customer-chosen host and port under the policy (literal addresses checked up front,
 * names in the socket's own lookup), bounded by `timeoutMs`. For clients that accept a connected socket (e.g.
 * nodemailer's `getSocket`), so they never resolve or connect on their own.
 */
export function connectOutbound(host: string, port: number, policy: OutboundPolicy & { timeoutMs: number }): Promise<Socket> {
  const target = bareHost(host);
  const refused = refuseLiteral(target, policy);
  if (refused) return Promise.reject(refused);
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: target, port, lookup: outboundLookup(policy) });
    const timer = setTimeout(() => socket.destroy(new Error(`connecting to ${host}:${port} timed out after ${policy.timeoutMs} ms`)), policy.timeoutMs);
    const onError = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

/**
 * POSTs JSON to a customer-supplied URL and resolves to the response status. Unless `allowPrivate`, it refuses
 * (OutboundAddressError) a host that is, or resolves to, a non-public address, checked as in {@link outboundLookup}.
 * Redirects are not followed (a 3xx is just the status), the response body is discarded, and the whole exchange
 * is bounded by `timeoutMs`.
 */
export function postJson(url: string, body: unknown, opts: OutboundPolicy & { timeoutMs: number; userAgent: string }): Promise<number> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const refused = refuseLiteral(bareHost(target.hostname), opts);
  if (refused) return Promise.reject(refused);
  const lookup = outboundLookup(opts);
  const payload = Buffer.from(JSON.stringify(body));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        lookup,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, 'user-agent': opts.userAgent },
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A response {@link fetchOutbound} read whole, within its size cap. */
export interface OutboundResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

/**
 * One HTTP(S) exchange with a customer-chosen URL (a function's `fetch`), under the same policy as
 * {@link postJson}: literal non-public addresses refused up front, names checked in the socket's own lookup
 * (DNS-rebinding safe), redirects not followed (a 3xx is returned as is), the whole exchange bounded by
 * `timeoutMs`, and a response body larger than `maxBytes` refused.
 */
export function fetchOutbound(
  url: string,
  init: { method: string; headers: Array<[string, string]>; body: Uint8Array | null; signal?: AbortSignal | null },
  opts: OutboundPolicy & { timeoutMs: number; maxBytes: number },
): Promise<OutboundResponse> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new Error('invalid URL'));
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const refused = refuseLiteral(bareHost(target.hostname), opts);
  if (refused) return Promise.reject(refused);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of init.headers) {
    const name = k.toLowerCase();
    if (name === 'host' || name === 'connection' || name === 'content-length' || name === 'transfer-encoding') continue;
    headers[name] = headers[name] === undefined ? v : ([] as string[]).concat(headers[name], v);
  }
  if (init.body) headers['content-length'] = String(init.body.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    const req = send(target, { method: init.method, lookup: outboundLookup(opts), headers, signal: init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (settled) return;
        size += c.length;
        if (size > opts.maxBytes) {
          fail(new Error(`response larger than ${opts.maxBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        const pairs: Array<[string, string]> = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: pairs, body: Buffer.concat(chunks) });
      });
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(init.body ?? undefined);
  });
}

export interface OutboundFetchInit {
  method?: string;
  headers?: Record<string, string> | Headers;
  body?: string | URLSearchParams | Uint8Array | null;
  signal?: AbortSignal | null;
}

/**
 * A `fetch` for customer-chosen URLs (e.g. an OpenID provider's discovery, token and JWKS endpoints) over
 * {@link fetchOutbound}: the same address policy, http(s) only, redirects not followed, the body capped and the
 * exchange bounded. Returns a standard Response, so libraries that take a custom fetch can use it.
 */
export function outboundFetch(opts: OutboundPolicy & { timeoutMs: number; maxBytes: number; userAgent: string }) {
  return async (url: string | URL, init: OutboundFetchInit = {}): Promise<Response> => {
    const headers: Array<[string, string]> = [['user-agent', opts.userAgent]];
    new Headers(init.headers ?? {}).forEach((v, k) => (k === 'user-agent' ? (headers[0] = [k, v]) : headers.push([k, v])));
    const body = init.body === undefined || init.body === null ? null : init.body instanceof Uint8Array ? init.body : Buffer.from(String(init.body));
    const res = await fetchOutbound(String(url), { method: init.method ?? 'GET', headers, body, signal: init.signal }, opts);
    const out = new Headers();
    for (const [k, v] of res.headers) out.append(k, v);
    const empty = res.status === 204 || res.status === 304;
    return new Response(empty ? null : new Uint8Array(res.body), { status: res.status, statusText: res.statusText, headers: out });
  };
}
