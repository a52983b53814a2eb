import { Module } from '@nestjs/common';
import { OutboxModule } from '@plinth/jobs';
import { BillingAccessService } from './billing-access.service';
import { BillingAccountRepository } from './billing-account.repository';

/** Only the gateway's billing check: small on purpose, so the request path pulls in nothing else of billing. */
@Module({
  imports: [OutboxModule],
  // The accounts repository lives here so billing's other modules share this one instance.
  providers: [BillingAccessService, BillingAccountRepository],
  exports: [BillingAccessService, BillingAccountRepository],
})
export class BillingAccessModule {}
