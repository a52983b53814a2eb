import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { KeysModule } from '@plinth/keys';
import { TenancyModule } from '@plinth/tenancy';
import { EndUserTokens } from './end-user-tokens';
import { gatewayCors } from './gateway-cors.middleware';
import { GatewayController } from './gateway.controller';
import { GatewayGuard } from './gateway.guard';
import { ProjectDirectory } from './project-directory';

@Module({
  imports: [KeysModule, TenancyModule],
  controllers: [GatewayController],
  providers: [GatewayGuard, ProjectDirectory, EndUserTokens],
  exports: [GatewayGuard, ProjectDirectory, EndUserTokens, KeysModule, TenancyModule],
})
export class GatewayModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(gatewayCors).forRoutes('p/*path');
  }
}
