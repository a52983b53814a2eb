/** Every queue's name. A lib adding a queue adds it here, so the worker and the relay know it. */
export const QUEUES = {
  maintenance: 'maintenance',
  usage: 'usage',
  notifications: 'notifications',
  email: 'email',
  billing: 'billing',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const QUEUE_NAMES: readonly QueueName[] = Object.values(QUEUES);

/** Job names owned by libs/jobs itself; other libs keep theirs next to their job class. */
export const JOB_NAMES = {
  pruneOutbox: 'prune-outbox',
} as const;

/** Injection token for the shared ioredis connection, or null in the embedded default (no REDIS_URL). */
export const REDIS = Symbol('REDIS');
