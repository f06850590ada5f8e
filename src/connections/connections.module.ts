import { Global, Module, type DynamicModule } from '@nestjs/common';
import { CONNECTION_CHECKER } from '../conversations/connection-checker.port.js';
import { CONNECTIONS_URL, ConnectionsChecker } from './connections.checker.js';

@Global()
@Module({})
export class ConnectionsModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: ConnectionsModule,
      providers: [
        { provide: CONNECTIONS_URL, useValue: url },
        ConnectionsChecker,
        { provide: CONNECTION_CHECKER, useExisting: ConnectionsChecker },
      ],
      exports: [CONNECTION_CHECKER, ConnectionsChecker],
    };
  }
}
