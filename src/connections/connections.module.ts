import { Global, Module, type DynamicModule } from '@nestjs/common';
import { CONNECTION_CHECKER } from '../conversations/connection-checker.port.js';
import { RedisModule } from '../infrastructure/redis/redis.module.js';
import { CONNECTIONS_URL, ConnectionsChecker } from './connections.checker.js';

/**
 * The adapter of the domain's CONNECTION_CHECKER port. Global because the domain's modules may not
 * import the edge (the layer rules): the composition root provides it to them.
 */
@Global()
@Module({})
export class ConnectionsModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: ConnectionsModule,
      imports: [RedisModule],
      providers: [
        { provide: CONNECTIONS_URL, useValue: url },
        ConnectionsChecker,
        { provide: CONNECTION_CHECKER, useExisting: ConnectionsChecker },
      ],
      exports: [CONNECTION_CHECKER, ConnectionsChecker],
    };
  }
}
