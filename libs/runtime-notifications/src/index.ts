/** The notifications runtime (api) and its delivery jobs (worker). */
export { NotificationsRuntimeModule, NotificationsJobsModule, NotificationsSendModule } from './notifications.module';
/** Standard Webhooks signing and the retry schedule, for tests and tools. */
export { signWebhook, newWebhookSecret, webhookRetryDelayMs, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_MS } from './webhook-signing';
/** One signed POST under the outbound policy (SSRF guard, timeout, response cap). */
export { postWebhook } from './webhook-sender';
export type { WebhookResult, WebhookRequest } from './webhook-sender';
/** Live inbox streams of this instance (open count, for benchmarks and health). */
export { InboxStreams } from './inbox-streams';
/** Sends, for other runtimes acting for a project (the functions runtime's `env.notify`): the service and the body's schema. */
export { SendService } from './send.service';
export type { SendReceipt } from './send.service';
export { sendSchema } from './notifications.dto';
export type { SendInput } from './notifications.dto';
/** Per-endpoint webhook concurrency (cluster-wide with Redis), for tests and tools. */
export { EndpointSlots } from './endpoint-slots';
/** Writes in-app entries in the caller's transaction (one user's entries commit in cursor order), for tests and tools. */
export { InboxWriter } from './inbox-writer';
