import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { Metrics } from './metrics.js';

export const LOGGER = Symbol('LOGGER');

@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [Metrics, { provide: LOGGER, useValue: logger }],
      exports: [Metrics, LOGGER],
    };
  }
}
