import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.js';
import { ConnectionsModule } from './connections/connections.module.js';
import { EventsModule } from './events/events.module.js';
import { GrpcTransportModule } from './grpc/grpc.module.js';
import { HttpModule } from './http/http.module.js';
import { LifecycleModule } from './infrastructure/lifecycle/lifecycle.module.js';
import type { Lifecycle } from './infrastructure/lifecycle/lifecycle.js';
import { ObservabilityModule } from './infrastructure/observability/observability.module.js';
import { RealtimeModule } from './websocket/realtime.module.js';
import { WebsocketModule } from './websocket/websocket.module.js';

/** A config whose embedded parts bootstrap has already resolved to real addresses and keys. */
export type ResolvedConfig = AppConfig & { databaseUrl: string; connectionsGrpcUrl: string };

@Module({})
export class AppModule {
  static forRoot(config: ResolvedConfig, logger: Logger, lifecycle: Lifecycle): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.forRoot(logger),
        LifecycleModule.forRoot(lifecycle),
        ConnectionsModule.forRoot(config.connectionsGrpcUrl),
        EventsModule,
        RealtimeModule,
        WebsocketModule,
        GrpcTransportModule,
        HttpModule,
      ],
    };
  }
}
