import { DynamicModule, Global, Module } from '@nestjs/common';
import { PlinthConfig } from './config';

/** Injection token for the validated {@link PlinthConfig}. */
export const PLINTH_CONFIG = Symbol('PLINTH_CONFIG');

@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: PlinthConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: PLINTH_CONFIG, useValue: config }], exports: [PLINTH_CONFIG] };
  }
}
