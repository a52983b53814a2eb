import { Module, OnModuleInit } from '@nestjs/common';
import { AuditModule } from '@plinth/audit';
import { GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { AuthJobsModule } from '@plinth/runtime-auth';
import { DataRuntimeModule, TableHooks } from '@plinth/runtime-data';
import { ProvisioningHooks, TenancyModule } from '@plinth/tenancy';
import { ChangeCapture } from './change-capture';
import { ChangeCaptureRepository } from './change-capture.repository';
import { DeliverWebhookJob } from './deliver-webhook.job';
import { DigestsRepository } from './digests.repository';
import { DispatchMessageJob } from './dispatch-message.job';
import { FlushDigestJob } from './flush-digest.job';
import { EndpointSlots } from './endpoint-slots';
import { InboxStreams } from './inbox-streams';
import { InboxWriter } from './inbox-writer';
import { InboxService } from './inbox.service';
import { NotificationSecrets } from './notification-secrets';
import { NotificationsEdge } from './notifications-edge';
import { NotificationsRepository } from './notifications.repository';
import { SendEmailJob } from './send-email.job';
import { PreferencesRepository } from './preferences.repository';
import { PreferencesService } from './preferences.service';
import { PushRepository } from './push.repository';
import { PushService } from './push.service';
import { SendPushJob } from './send-push.job';
import { SendRateLimit } from './send-rate-limit';
import { SendService } from './send.service';
import { TemplatesController } from './templates.controller';
import { TemplatesRepository } from './templates.repository';
import { TemplatesService } from './templates.service';
import { DeliveriesController, WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/** The delivery jobs (fan-out, webhook attempts, emails) and change capture; the worker imports this alone, the api via NotificationsRuntimeModule. */
@Module({
  imports: [MeteringModule, TenancyModule, AuthJobsModule],
  providers: [NotificationsRepository, NotificationSecrets, EndpointSlots, DispatchMessageJob, DeliverWebhookJob, SendEmailJob, ChangeCaptureRepository, ChangeCapture, PreferencesRepository, PreferencesService, PushRepository, PushService, SendPushJob, TemplatesRepository, DigestsRepository, FlushDigestJob, InboxWriter],
  exports: [NotificationsRepository, TemplatesRepository, InboxWriter, NotificationSecrets, ChangeCapture, PreferencesRepository, PreferencesService, PushRepository, PushService],
})
export class NotificationsJobsModule {}

/**
 * Sending alone (SendService with the templates and the send rate limit it needs), without the HTTP surface: the
 * worker imports it so a function's cron run can `env.notify` as an api-served call does.
 */
@Module({
  imports: [TenancyModule, AuditModule, QuotasModule, NotificationsJobsModule],
  providers: [SendService, SendRateLimit, TemplatesService],
  exports: [SendService],
})
export class NotificationsSendModule {}

/**
 * The notifications runtime: `/p/:ref/notifications/v1` on the tenant edge (send, inbox, live stream) and the
 * management API's webhooks and delivery log; data-change capture switched on for tables declared after a subscription.
 */
@Module({
  imports: [GatewayModule, TenancyModule, IdentityModule, AuditModule, QuotasModule, DataRuntimeModule, NotificationsJobsModule],
  controllers: [WebhooksController, DeliveriesController, TemplatesController],
  providers: [NotificationsEdge, SendService, SendRateLimit, InboxService, InboxStreams, WebhooksService, TemplatesService],
})
export class NotificationsRuntimeModule implements OnModuleInit {
  constructor(
    private readonly tableHooks: TableHooks,
    private readonly capture: ChangeCapture,
    private readonly provisioning: ProvisioningHooks,
    private readonly push: PushService,
  ) {}

  onModuleInit(): void {
    this.tableHooks.register('notifications', (m, t) => this.capture.tableDeclared(m, t));
    // Every new project gets its VAPID key pair in the transaction creating it.
    this.provisioning.register('notifications-vapid', (sql, names) => this.push.provisionVapid(sql, names));
  }
}
