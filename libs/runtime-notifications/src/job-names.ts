import type { JobData } from '@plinth/jobs';

export const DISPATCH_MESSAGE_JOB = 'notifications.dispatch';
export const DELIVER_WEBHOOK_JOB = 'notifications.deliver-webhook';
export const SEND_EMAIL_JOB = 'notifications.send-email';
export const SEND_PUSH_JOB = 'notifications.send-push';
export const FLUSH_DIGEST_JOB = 'notifications.flush-digest';

/** Closes one digest when its window ends and sends its email. */
export interface FlushDigestData extends JobData {
  projectId: string;
  digestId: string;
}

/** One web push delivery to one subscription (the job executor's retries and backoff). */
export interface SendPushData extends JobData {
  projectId: string;
  deliveryId: string;
  subscriptionId: string;
}

/** One email delivery (the job executor's retries and backoff). */
export interface SendEmailData extends JobData {
  projectId: string;
  deliveryId: string;
  /** The end user the email goes to, when sent by user id or topic: its List-Unsubscribe link names them. */
  userId?: string;
  topic?: string;
}

/** Fans a message out to its channels (inbox entries, webhook deliveries). */
export interface DispatchMessageData extends JobData {
  projectId: string;
  messageId: string;
}

/** One attempt of a webhook delivery: `attempt` counts every attempt of the delivery, `step` this round's (1–8). */
export interface DeliverWebhookData extends JobData {
  projectId: string;
  deliveryId: string;
  attempt: number;
  step: number;
}

/** The CacheInvalidation topic announcing new inbox entries (`<projectId>:<userId>`), on commit, to every api instance. */
export const INBOX_TOPIC = 'notifications.inbox';

/** The CacheInvalidation topic a capture trigger notifies on commit (key: the project id): drain its changes. */
export const CAPTURE_TOPIC = 'notifications.capture';
