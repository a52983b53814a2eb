import { Module } from '@nestjs/common';
import { OutboxModule } from '@plinth/jobs';
import { TenancyModule } from '@plinth/tenancy';
import { GaugeSources } from './gauge-sources';
import { MeteringService } from './metering.service';
import { RollupUsageJob } from './rollup-usage.job';
import { SampleStorageJob } from './sample-storage.job';
import { UsageRepository } from './usage.repository';

/** Usage counters (hot path + flush), their queries, and the roll-up and sampling jobs. */
@Module({
  imports: [OutboxModule, TenancyModule],
  providers: [MeteringService, UsageRepository, RollupUsageJob, SampleStorageJob, GaugeSources],
  exports: [MeteringService, UsageRepository, RollupUsageJob, SampleStorageJob, GaugeSources],
})
export class MeteringModule {}
