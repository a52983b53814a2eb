import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock } from '@plinth/common';
import { JobRegistry } from './job-registry';
import { REDIS } from './job.constants';
import { OutboxRepository } from './outbox.repository';
import { OutboxService } from './outbox.service';
import { connectRedis } from './redis';

@Injectable()
class RedisLifecycle implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}
  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}

/**
 * What every process needs to *write* jobs: the outbox, the handler registry, the clock and the shared Redis
 * connection (null without REDIS_URL; start-up fails on a Redis that may evict). Global: imported once.
 */
@Global()
@Module({
  providers: [
    Clock,
    JobRegistry,
    OutboxRepository,
    OutboxService,
    {
      provide: REDIS,
      inject: [PLINTH_CONFIG],
      useFactory: (config: PlinthConfig) => (config.redis.url ? connectRedis(config.redis.url) : null),
    },
    RedisLifecycle,
  ],
  exports: [Clock, JobRegistry, OutboxRepository, OutboxService, REDIS],
})
export class OutboxModule {}
