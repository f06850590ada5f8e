import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Lifecycle } from './lifecycle.js';

/** The process's one Lifecycle, created by bootstrap (the gRPC health service needs it before Nest). */
@Global()
@Module({})
export class LifecycleModule {
  static forRoot(lifecycle: Lifecycle): DynamicModule {
    return { module: LifecycleModule, providers: [{ provide: Lifecycle, useValue: lifecycle }], exports: [Lifecycle] };
  }
}
