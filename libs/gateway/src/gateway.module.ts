import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { BillingAccessModule } from '@plinth/billing';
import { KeysModule } from '@plinth/keys';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { TenancyModule } from '@plinth/tenancy';
import { EndUserTokens } from './end-user-tokens';
import { gatewayCors } from './gateway-cors.middleware';
import { GatewayFallbackController } from './gateway.controller';
import { GatewayGuard } from './gateway.guard';
import { KeyResolver } from './key-resolver';
import { ProjectDirectory } from './project-directory';

@Module({
  imports: [KeysModule, TenancyModule, MeteringModule, QuotasModule, BillingAccessModule],
  providers: [GatewayGuard, KeyResolver, ProjectDirectory, EndUserTokens],
  exports: [GatewayGuard, KeyResolver, ProjectDirectory, EndUserTokens, KeysModule, TenancyModule, MeteringModule, QuotasModule, BillingAccessModule],
})
export class GatewayModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(gatewayCors).forRoutes('p/*path');
  }
}

/** The 404 for unknown runtime paths; import it after every runtime module so their routes win. */
@Module({ imports: [GatewayModule], controllers: [GatewayFallbackController] })
export class GatewayFallbackModule {}
