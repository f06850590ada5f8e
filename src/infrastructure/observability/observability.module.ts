import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { DependencyStates } from './dependency-state.js';
import { Metrics } from './metrics.js';

export const LOGGER = Symbol('LOGGER');

@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [Metrics, { provide: LOGGER, useValue: logger }, { provide: DependencyStates, useValue: new DependencyStates(logger) }],
      exports: [Metrics, LOGGER, DependencyStates],
    };
  }
}
