import { All, Controller, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PlinthException } from '@plinth/common';
import { GatewayGuard } from './gateway.guard';

/**
 * Everything under a runtime that no runtime answered: 404 after the key checks. Registered by
 * {@link GatewayFallbackModule}, which the app imports after every runtime so their routes match first.
 * (The data runtime serves `GET /p/:ref/rest/v1/`, the project's OpenAPI document.)
 */
@ApiExcludeController()
@Controller('p/:ref/:runtime/v1')
@UseGuards(GatewayGuard)
export class GatewayFallbackController {
  @All('*path')
  notFound(): never {
    throw PlinthException.notFound('Route');
  }
}
