import { Injectable, OnModuleInit } from '@nestjs/common';
import { PlinthException, WireException } from '@plinth/common';
import { EdgeContext, EdgeRoute, EdgeRuntime, ErrorDialect, KeyResolver, RuntimeRegistry, sendJson, StandardError } from '@plinth/gateway';
import { InboxStreams } from './inbox-streams';
import { inboxOwner, InboxService } from './inbox.service';
import { inboxPatchSchema, inboxQuerySchema, parseBody, parseQuery, preferencesSchema, pushSubscriptionSchema, pushUnsubscribeSchema, sendSchema, streamQuerySchema, topicSchema, unsubscribeQuerySchema } from './notifications.dto';
import { PreferencesService } from './preferences.service';
import { PushService } from './push.service';
import { SendService } from './send.service';

/**
 * The notifications runtime's errors: Plinth's own `{"error": {"code", "message", "details"?, "error_id"?, …}}`
 * (there is no peer wire format to match), registered explicitly so the runtime's shape is a decision, not a default.
 */
export const NOTIFICATIONS_DIALECT: ErrorDialect = {
  render(e: StandardError): WireException {
    const error: Record<string, unknown> = { code: e.code, message: e.message, ...(e.fields ?? {}) };
    if (e.details !== undefined) error.details = e.details;
    if (e.errorId !== undefined) error.error_id = e.errorId;
    return new WireException(e.status, { error }, e.headers);
  },
};

/**
 * `/p/:ref/notifications/v1`: send (secret key, or a restricted key with `notifications:send`) and the signed-in end
 * user's inbox with its live stream. Each route is one service call.
 */
@Injectable()
export class NotificationsEdge implements OnModuleInit {
  constructor(
    private readonly runtimes: RuntimeRegistry,
    private readonly keys: KeyResolver,
    private readonly sends: SendService,
    private readonly inbox: InboxService,
    private readonly streams: InboxStreams,
    private readonly prefs: PreferencesService,
    private readonly push: PushService,
  ) {}

  onModuleInit(): void {
    this.runtimes.register(this.runtime());
  }

  runtime(): EdgeRuntime {
    const json = (status: number, handler: (c: EdgeContext) => Promise<unknown>) => async (c: EdgeContext) => sendJson(c.res, status, await handler(c));
    const routes: EdgeRoute[] = [
      {
        methods: ['POST'],
        path: '/send',
        body: 'json',
        // A restricted key needs `notifications:send` (or `notifications:*`), not a generic write scope.
        target: () => ({ action: 'send' }),
        handler: json(202, (c) => {
          if (c.tenant.role !== 'service' && c.tenant.role !== 'restricted') {
            throw PlinthException.forbidden('Sending needs the secret key or a restricted key with the notifications:send scope');
          }
          return this.sends.send(c.tenant, parseBody(sendSchema, c.body));
        }),
      },
      { methods: ['GET'], path: '/inbox', body: 'none', handler: json(200, (c) => this.inbox.list(c.tenant, parseQuery(inboxQuerySchema, c.query))) },
      { methods: ['GET'], path: '/inbox/unread-count', body: 'none', handler: json(200, (c) => this.inbox.unreadCount(c.tenant)) },
      { methods: ['POST'], path: '/inbox/read-all', body: 'none', handler: json(200, (c) => this.inbox.readAll(c.tenant)) },
      // A browser's EventSource can't send headers: the stream also takes the key and token as query parameters,
      // judged by the same resolver as any header-borne key.
      { methods: ['GET'], path: '/inbox/stream', body: 'none', key: 'optional', handler: (c) => this.stream(c) },
      { methods: ['GET'], path: '/preferences', body: 'none', handler: json(200, (c) => this.prefs.get(c.tenant)) },
      { methods: ['PUT'], path: '/preferences', body: 'json', handler: json(200, (c) => this.prefs.put(c.tenant, parseBody(preferencesSchema, c.body))) },
      { methods: ['POST'], path: '/topics/:topic/subscription', body: 'none', handler: json(200, (c) => this.prefs.subscribe(c.tenant, parseBody(topicSchema, c.params.topic))) },
      { methods: ['DELETE'], path: '/topics/:topic/subscription', body: 'none', handler: json(200, (c) => this.prefs.unsubscribe(c.tenant, parseBody(topicSchema, c.params.topic))) },
      // RFC 8058 one-click unsubscribe: the mail client POSTs `List-Unsubscribe=One-Click` with no key; the signed
      // token is the credential, and it names its project.
      // The same link opened in a browser (mail clients without one-click): a page whose button POSTs it; a GET
      // never changes anything (link scanners follow links).
      { methods: ['GET'], path: '/unsubscribe', body: 'none', key: 'optional', handler: async (c) => this.unsubscribePage(c) },
      { methods: ['POST'], path: '/unsubscribe', body: 'raw', key: 'optional', handler: json(200, (c) => this.prefs.oneClick(c.tenant, parseQuery(unsubscribeQuerySchema, c.query).token)) },
      // Web push: the VAPID public key is public (any key of the project); subscriptions are the end user's own.
      { methods: ['GET'], path: '/push/vapid-public-key', body: 'none', handler: json(200, (c) => this.push.publicKey(c.tenant)) },
      { methods: ['GET'], path: '/push/subscriptions', body: 'none', handler: json(200, (c) => this.push.list(c.tenant)) },
      { methods: ['POST'], path: '/push/subscriptions', body: 'json', handler: json(201, (c) => this.push.subscribe(c.tenant, parseBody(pushSubscriptionSchema, c.body))) },
      {
        methods: ['DELETE'],
        path: '/push/subscriptions',
        body: 'json',
        handler: async (c) => {
          await this.push.unsubscribe(c.tenant, parseBody(pushUnsubscribeSchema, c.body).endpoint);
          c.res.writeHead(204).end();
        },
      },
      { methods: ['PATCH'], path: '/inbox/:id', body: 'json', handler: json(200, (c) => this.inbox.update(c.tenant, c.params.id, parseBody(inboxPatchSchema, c.body))) },
    ];
    return { name: 'notifications', dialect: NOTIFICATIONS_DIALECT, routes };
  }

  private async unsubscribePage(c: EdgeContext): Promise<void> {
    const token = parseQuery(unsubscribeQuerySchema, c.query).token ?? '';
    const action = `?token=${encodeURIComponent(token)}`;
    const html = `<!doctype html><meta charset="utf-8"><title>Unsubscribe</title><form method="post" action="${action.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)}">` +
      `<input type="hidden" name="List-Unsubscribe" value="One-Click"><p>Stop these emails?</p><button type="submit">Unsubscribe</button></form>`;
    c.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; form-action 'self'", 'x-frame-options': 'DENY', 'cache-control': 'no-store' });
    c.res.end(html);
  }

  private async stream(c: EdgeContext): Promise<void> {
    const q = parseQuery(streamQuerySchema, c.query);
    let tenant = c.tenant;
    if (tenant.keyId.startsWith('keyless:')) {
      if (!q.apikey) throw PlinthException.unauthorized('No API key found in request');
      const headers = { apikey: q.apikey, ...(q.access_token ? { authorization: `Bearer ${q.access_token}` } : {}), ...(c.req.headers.origin ? { origin: c.req.headers.origin } : {}) };
      tenant = await this.keys.tenant({ method: c.method, ip: c.ip, headers }, tenant.project.ref, 'notifications');
    }
    const { projectId, userId } = inboxOwner(tenant);
    const header = c.req.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && /^[0-9]{1,18}$/.test(header) ? header : q.last_event_id;
    await this.streams.open(projectId, userId, c.res, lastEventId);
  }
}
