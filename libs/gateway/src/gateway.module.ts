import { Module } from '@nestjs/common';
import { BillingAccessModule } from '@plinth/billing';
import { KeysModule } from '@plinth/keys';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { TenancyModule } from '@plinth/tenancy';
import { Admission } from './edge/admission.service';
import { ErrorDialects } from './edge/error-dialects';
import { RuntimeRegistry } from './edge/runtime-registry';
import { TenantEdge } from './edge/tenant-edge';
import { EndUserTokens } from './end-user-tokens';
import { KeyResolver } from './key-resolver';
import { ProjectDirectory } from './project-directory';

/**
 * The tenant edge and what it is made of. Runtimes import it to register their routes and dialect
 * ({@link RuntimeRegistry}) and to judge keys elsewhere ({@link KeyResolver}); the app installs {@link TenantEdge}
 * in front of its HTTP server. It exports its own providers only: a runtime imports the other libs it uses itself.
 */
@Module({
  imports: [KeysModule, TenancyModule, MeteringModule, QuotasModule, BillingAccessModule],
  providers: [TenantEdge, RuntimeRegistry, ErrorDialects, Admission, KeyResolver, ProjectDirectory, EndUserTokens],
  exports: [TenantEdge, RuntimeRegistry, ErrorDialects, Admission, KeyResolver, ProjectDirectory, EndUserTokens],
})
export class GatewayModule {}
