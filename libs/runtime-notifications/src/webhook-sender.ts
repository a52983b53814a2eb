import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { isPublicAddress, OutboundAddressError, outboundLookup, OutboundPolicy } from '@plinth/common';

/**
 * Connections are kept alive between deliveries (a new TCP and TLS handshake per delivery was most of its cost). A
 * connection is only ever opened through the guarded lookup below, so a reused one goes to an address already
 * checked; the process's policy doesn't change while it runs.
 */
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 64, timeout: 30_000 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 64, timeout: 30_000 }) };

/** What one POST to an endpoint came to: a status (or none, with the error), how long it took, the start of the body. */
export interface WebhookResult {
  status: number | null;
  latencyMs: number;
  error: string | null;
  excerpt: string | null;
  /** The destination was refused by the outbound policy (a retry can't help). */
  refused: boolean;
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  /** Text (a webhook's JSON) or bytes (an encrypted push message). */
  body: string | Buffer;
}

/**
 * POSTs one signed webhook under the outbound policy: a literal non-public address is refused before connecting and
 * names in the socket's own lookup (no DNS rebinding between check and connect); redirects are never followed (a 3xx
 * is a failed attempt); the whole exchange is bounded by `timeoutMs`; at most `maxResponseBytes` of the response are
 * read, the rest is dropped with the connection. Never throws: every outcome is a {@link WebhookResult}.
 */
export function postWebhook(req: WebhookRequest, opts: OutboundPolicy & { timeoutMs: number; maxResponseBytes: number; userAgent: string }): Promise<WebhookResult> {
  const started = performance.now();
  const done = (r: Omit<WebhookResult, 'latencyMs'>): WebhookResult => ({ ...r, latencyMs: Math.round(performance.now() - started) });
  let target: URL;
  try {
    target = new URL(req.url);
  } catch {
    return Promise.resolve(done({ status: null, error: 'invalid URL', excerpt: null, refused: true }));
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return Promise.resolve(done({ status: null, error: `unsupported protocol ${target.protocol}`, excerpt: null, refused: true }));
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!opts.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    return Promise.resolve(done({ status: null, error: `refusing to connect to the non-public address ${host}`, excerpt: null, refused: true }));
  }
  const payload = Buffer.from(req.body);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<WebhookResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      resolve(done(r));
    };
    const request = send(
      target,
      {
        method: 'POST',
        lookup: outboundLookup(opts),
        agent: target.protocol === 'https:' ? agents.https : agents.http,
        headers: { ...req.headers, 'content-type': 'application/json', 'content-length': payload.length, 'user-agent': opts.userAgent },
        signal: AbortSignal.timeout(opts.timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const status = res.statusCode ?? 0;
        const excerpt = () => (kept > 0 ? Buffer.concat(chunks).toString('utf8') : null);
        res.on('data', (chunk: Buffer) => {
          if (kept < opts.maxResponseBytes) {
            const part = chunk.subarray(0, opts.maxResponseBytes - kept);
            chunks.push(part);
            kept += part.length;
          }
          if (kept >= opts.maxResponseBytes) {
            // Enough kept: the rest is not read (a huge or endless response costs us nothing more).
            finish({ status, error: null, excerpt: excerpt(), refused: false });
            res.destroy();
          }
        });
        res.on('end', () => finish({ status, error: null, excerpt: excerpt(), refused: false }));
        res.on('error', (e) => finish({ status, error: e.message, excerpt: excerpt(), refused: false }));
        res.on('close', () => finish({ status, error: null, excerpt: excerpt(), refused: false }));
      },
    );
    request.on('error', (e: Error) => {
      const refused = e instanceof OutboundAddressError;
      const timedOut = e.name === 'AbortError' || e.name === 'TimeoutError';
      finish({ status: null, error: timedOut ? `timed out after ${opts.timeoutMs} ms` : e.message, excerpt: null, refused });
    });
    request.end(payload);
  });
}
