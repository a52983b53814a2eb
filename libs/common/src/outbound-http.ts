import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, LookupFunction } from 'node:net';

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

/**
 * POSTs JSON to a customer-supplied URL and resolves to the response status. Unless `allowPrivate`, it refuses
 * (OutboundAddressError) a host that is, or resolves to, a non-public address: the check runs in the socket's own
 * DNS lookup, so a name can't resolve to a public address for a check and a private one for the connection.
 * Redirects are not followed (a 3xx is just the status), the response body is discarded, and the whole exchange
 * is bounded by `timeoutMs`.
 */
export function postJson(url: string, body: unknown, opts: { allowPrivate: boolean; timeoutMs: number; userAgent: string }): Promise<number> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${target.protocol}`));
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  // A literal address never reaches the lookup below.
  if (!opts.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    return Promise.reject(new OutboundAddressError(`refusing to send to the non-public address ${host}`));
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const usable = opts.allowPrivate ? (addresses as LookupAddress[]) : (addresses as LookupAddress[]).filter((a) => isPublicAddress(a.address));
      if (usable.length === 0) return callback(new OutboundAddressError(`refusing to send to ${hostname}: it resolves only to non-public addresses`), '', 0);
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      else callback(null, usable[0].address, usable[0].family);
    });
  };
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
