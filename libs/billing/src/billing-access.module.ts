import { Module } from '@nestjs/common';
import { OutboxModule } from '@plinth/jobs';
import { BillingAccessService } from './billing-access.service';

/** Only the gateway's billing check: small on purpose, so the request path pulls in nothing else of billing. */
@Module({
  imports: [OutboxModule],
  providers: [BillingAccessService],
  exports: [BillingAccessService],
})
export class BillingAccessModule {}
